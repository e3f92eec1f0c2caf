"""MLflow conventions (run names, the command tag, batches, the experiment kind, runs of
dead processes) and the console (readable metric lines, no third-party noise)."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import mlflow
import numpy as np
import pytest
import yaml

from aligned_kedro.console import ReadableArgs, quiet_third_party_warnings, readable
from aligned_kedro.tracking import (
    EXPERIMENT_KIND,
    PROCESS_TAGS,
    command_line,
    ensure_experiment,
    log_metrics,
    mark_abandoned_runs,
    run_name,
    run_parameters,
)

ROOT = Path(__file__).resolve().parents[1]


def test_run_names_follow_the_template():
    params = {"k": 4, "seed": 1, "datasets": ["norman"]}
    template = "{pipeline} k={k} seed={seed}{datasets}"
    assert run_name(template, ["aligned"], params) == "aligned k=4 seed=1 [norman]"
    assert run_name(template, ["validate"], params, ["norman"]) == "validate k=4 seed=1 [norman]"
    assert run_name(template, ["aligned"], {"k": 2, "seed": 0}) == "aligned k=2 seed=0"
    assert run_name("{pipeline} {unknown}", ["aligned"], params) == "aligned"


def test_the_command_tag_has_the_params():
    run_params = {
        "pipeline_names": ["aligned"],
        "namespaces": ["norman"],
        "runtime_params": {"k": 6, "training": {"adaptor": {"use_inc": False}}},
    }
    assert command_line(run_params) == (
        "kedro run --pipelines=aligned --namespaces=norman "
        "--params=k=6,training.adaptor.use_inc=false"
    )


def test_parameters_are_logged_once_with_each_datasets_merged_values():
    params = {"k": 4, "training": {"lr": 0.1}, "datasets": ["norman"], "norman": {"k": 2}}
    assert run_parameters(params) == {
        "k": 4,
        "training.lr": 0.1,
        "datasets": ["norman"],
        "norman.k": 2,
        "norman.training.lr": 0.1,
    }


class Client:
    def __init__(self) -> None:
        self.batches: list[int] = []

    def log_batch(self, run_id, metrics=(), params=(), synchronous=True):
        self.batches.append(len(metrics))


def test_metrics_go_in_batches_of_a_thousand():
    client = Client()
    metrics = {f"m{i}": float(i) for i in range(2400)} | {"loss": [0.5, 0.4, 0.3]}
    log_metrics("run", metrics, client)
    assert client.batches == [1000, 1000, 403]


@pytest.fixture
def client(tmp_path: Path) -> mlflow.MlflowClient:
    return mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")


def test_the_experiment_opens_on_its_runs(client: mlflow.MlflowClient):
    experiment_id = client.create_experiment("old")
    assert ensure_experiment(client, "old") == experiment_id
    new = ensure_experiment(client, "new")
    for found in (experiment_id, new):
        assert client.get_experiment(found).tags[EXPERIMENT_KIND[0]] == EXPERIMENT_KIND[1]


def test_a_run_left_running_by_a_dead_process_is_marked_killed(client: mlflow.MlflowClient):
    experiment_id = ensure_experiment(client, "runs")
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    host = PROCESS_TAGS[0]
    runs = {}
    for name, pid in (("dead", done.pid), ("alive", os.getpid()), ("other tool", None)):
        tags = {host: socket.gethostname()} if pid else {}
        if pid:
            tags[PROCESS_TAGS[1]] = str(pid)
        runs[name] = client.create_run(experiment_id, tags=tags, run_name=name).info.run_id
    assert mark_abandoned_runs(client, experiment_id) == [runs["dead"]]
    status = {name: client.get_run(run_id).info.status for name, run_id in runs.items()}
    assert status == {"dead": "KILLED", "alive": "RUNNING", "other tool": "RUNNING"}


def test_metric_dicts_print_as_readable_lines():
    record = logging.LogRecord(
        "x", logging.INFO, "f", 1, "stage %s: %s", ("A", {"f1": np.float64(0.41234), "n": 7}), None
    )
    ReadableArgs().filter(record)
    assert record.getMessage() == "stage A: f1=0.4123, n=7"
    counted = logging.LogRecord("x", 20, "f", 1, "%d dropped: %s", (np.int64(6), [1.0]), None)
    ReadableArgs().filter(counted)
    assert counted.getMessage() == "6 dropped: [1]"
    assert readable({"a": {"b": np.int64(6)}, "c": None}) == "a={b=6}, c=None"
    metrics = {"round_1.align.data_f1": 0.41, "round_1.align.kb_usage": 0.3}
    stage = logging.LogRecord("x", 20, "f", 1, "%s: %s", ("round_1.align", metrics), None)
    ReadableArgs().filter(stage)
    assert stage.getMessage() == "round_1.align: data_f1=0.41, kb_usage=0.3"
    unnamed = logging.LogRecord("x", 20, "f", 1, "statistics: %s", ({"data.genes": 5},), None)
    ReadableArgs().filter(unnamed)
    assert unnamed.getMessage() == "statistics: data.genes=5"


def test_third_party_warnings_are_quiet_and_ours_are_not():
    quiet_third_party_warnings()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        quiet_third_party_warnings()
        warnings.warn("register_new_resolver() is deprecated", UserWarning, stacklevel=1)
        warnings.warn("a warning about this project", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["a warning about this project"]


def test_kedro_dataset_lines_are_at_warning_by_default():
    loggers = yaml.safe_load((ROOT / "conf" / "logging.yml").read_text())["loggers"]
    assert loggers["kedro.io"]["level"] == "WARNING"
    assert loggers["aligned_kedro"]["level"] == "INFO"


def test_the_readme_command_runs_pipelines_without_a_deprecation(monkeypatch):
    from click.testing import CliRunner

    from aligned_kedro import cli

    seen = []
    monkeypatch.setattr(cli, "_run_jobs", lambda verbose, options: seen.append(options))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = CliRunner().invoke(cli.run, ["--pipeline=aligned", "--params=k:4"])
    assert result.exit_code == 0, result.output
    assert seen[0]["pipelines"] == ["aligned"] and seen[0]["pipeline"] is None
    assert seen[0]["params"] == {"k": 4}


def test_a_long_node_is_never_silent(caplog, monkeypatch):
    import time
    from types import SimpleNamespace

    from aligned_kedro.hooks import ConsoleHooks

    hooks = ConsoleHooks()
    monkeypatch.setattr(hooks, "HEARTBEAT", 0.05)
    run_params = {"run_id": "v1", "pipeline_names": ["aligned"]}
    pipeline = SimpleNamespace(nodes=[object(), object()])
    with caplog.at_level(logging.INFO, logger="aligned_kedro"):
        hooks.before_pipeline_run(run_params, pipeline)
        hooks.before_node_run(SimpleNamespace(name="round_1.align_1"))
        time.sleep(0.3)
        hooks.after_pipeline_run(run_params)
        time.sleep(0.1)
    lines = [r.getMessage() for r in caplog.records]
    assert lines[:2] == ["run v1: aligned, 2 nodes", "[1/2] round_1.align_1"]
    assert "round_1.align_1: still running (0 s)" in lines
    assert lines[-1].startswith("run v1 completed in")
