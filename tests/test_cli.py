import pytest
from click.testing import CliRunner

from aligned_kedro import cli as project_cli
from aligned_kedro.cli import cli, dataset_jobs, run, split_params
from aligned_kedro.core.errors import InputError


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


def test_run_keeps_every_stock_option_and_adds_verbose():
    from kedro.framework.cli.project import run as kedro_run

    assert [p.name for p in run.params] == [p.name for p in kedro_run.params] + ["verbose"]
    assert cli.commands["run"] is run


def test_malformed_params_still_fail_clearly():
    result = CliRunner().invoke(run, ["--params=k"])
    assert result.exit_code == 2
    assert "must contain a key and a value" in result.output


class FakeRun:
    """Kedro's run callback, recording its calls; raises for the namespaces in `fail`."""

    def __init__(self, fail: tuple[str, ...] = ()):
        self.calls: list[dict] = []
        self.fail = fail

    def callback(self, **options):
        self.calls.append(options)
        for name in options.get("namespaces") or []:
            if name in self.fail:
                raise InputError("nothing to split", source="raw_design", dataset=name)


def test_bad_input_is_one_line_and_verbose_shows_the_traceback(monkeypatch):
    monkeypatch.setattr(project_cli, "kedro_run", FakeRun(fail=("single",)))
    monkeypatch.setattr(project_cli, "dataset_jobs", lambda options: [])
    quiet = CliRunner().invoke(run, ["--namespaces=single"])
    assert quiet.exit_code == 1
    assert quiet.output.strip() == ("Error: dataset 'single': nothing to split (file 'raw_design')")
    verbose = CliRunner().invoke(run, ["--namespaces=single", "--verbose"])
    assert verbose.exit_code == 1 and "Traceback" in verbose.output


def test_each_dataset_runs_on_its_own_and_a_failure_stops_no_other(monkeypatch):
    fake = FakeRun(fail=("single",))
    jobs = [("default", {"node_names": ("a",)}), ("single", {"namespaces": ["single"]})]
    jobs.append(("norman", {"namespaces": ["norman"]}))
    monkeypatch.setattr(project_cli, "kedro_run", fake)
    monkeypatch.setattr(project_cli, "dataset_jobs", lambda options: jobs)
    result = CliRunner().invoke(run, [])
    assert result.exit_code == 1
    assert [c.get("namespaces") or c["node_names"] for c in fake.calls] == [
        ("a",),
        ["single"],
        ["norman"],
    ]
    assert "datasets finished: ['default', 'norman']; failed: ['single']" in result.output


class Node:
    def __init__(self, name: str, namespace: str | None):
        self.name, self.namespace = name, namespace


class Job:
    nodes = [
        Node("check_shape", None),
        Node("round_1.align", "round_1"),
        Node("single.check_shape", "single"),
        Node("single.round_1.align", "single.round_1"),
    ]


@pytest.mark.parametrize(
    ("options", "split"),
    [
        ({}, True),
        ({"pipeline": "aligned"}, True),
        ({"pipelines": ["validate"]}, True),
        ({"pipeline": "predict"}, False),
        ({"namespaces": ["single"]}, False),
        ({"node_names": ("check_shape",)}, False),
        ({"pipelines": ["aligned", "validate"]}, False),
    ],
)
def test_which_runs_are_split_by_dataset(monkeypatch, options, split):
    import kedro.framework.project

    monkeypatch.setattr(
        kedro.framework.project,
        "pipelines",
        dict.fromkeys(("__default__", "aligned", "validate"), Job()),
    )
    monkeypatch.setattr(
        "aligned_kedro.pipeline_registry.project_parameters",
        lambda: {"datasets": ["single"], "single": {}},
    )
    jobs = dataset_jobs({"pipeline": None, "pipelines": [], **options})
    expected = [("default", {"node_names": ("check_shape", "round_1.align")})]
    expected.append(("single", {"namespaces": ["single"]}))
    assert jobs == (expected if split else [])
