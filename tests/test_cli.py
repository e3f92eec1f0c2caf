import pytest
from click.testing import CliRunner

from aligned_kedro.cli import cli, run, split_params


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("k:4", {"k": 4}),
        ("k=4", {"k": 4}),
        ("training.lr:0.001", {"training": {"lr": 0.001}}),
        ("k:2,knowledge_base.variant=boolean", {"k": 2, "knowledge_base": {"variant": "boolean"}}),
        ("tag=a:b", {"tag": "a:b"}),
    ],
)
def test_params_accept_colon_and_equals(value, expected):
    assert split_params(None, None, value) == expected


def test_run_keeps_every_stock_option():
    from kedro.framework.cli.project import run as kedro_run

    assert [p.name for p in run.params] == [p.name for p in kedro_run.params]
    assert cli.commands["run"] is run


def test_malformed_params_still_fail_clearly():
    result = CliRunner().invoke(run, ["--params=k"])
    assert result.exit_code == 2
    assert "must contain a key and a value" in result.output
