"""Honest run states: a failed run ends FAILED and an interrupted one KILLED in MLflow, each
with what it logged; their outputs never become what the catalog loads as the latest; a
run whose process was killed is marked, and its outputs set aside, when the project next
starts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
from conftest import project_copy, write_slice
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from run_states import run

from aligned_kedro.runs import INCOMPLETE, LEDGER

PIPELINE = "data_processing"
STOP = "label_conditions"  # after select_conditions has written design_table
DESIGN = Path("data/03_primary/design.parquet")


def versions(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir()) if path.exists() else []


def latest_run(project: Path) -> mlflow.entities.Run:
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("aligned_kedro")
    return client.search_runs([experiment.experiment_id], order_by=["start_time DESC"])[0]


def ledger(project: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in (project / LEDGER).glob("*.json")}


def loaded_design_rows(project: Path) -> int:
    """Rows of design_table as a new session's catalog loads it (the latest version)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(project)
        bootstrap_project(project)
        with KedroSession.create(project_path=project) as session:
            return len(session.load_context().catalog.load("design_table"))


@pytest.fixture(scope="module")
def completed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose data_processing ran once to completion."""
    path = project_copy(tmp_path_factory.mktemp("states"))
    write_slice(path / "data" / "01_raw" / "ecoli")
    while mlflow.active_run():
        mlflow.end_run()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(path)
        run(path, PIPELINE, at="never", how="raise")
    assert latest_run(path).info.status == "FINISHED"
    return path


def test_a_failed_run_ends_failed_and_is_set_aside(completed: Path):
    before = versions(completed / DESIGN)
    rows = loaded_design_rows(completed)
    with pytest.MonkeyPatch.context() as patch, pytest.raises(RuntimeError, match="stopped"):
        patch.chdir(completed)
        run(completed, PIPELINE, at=STOP, how="raise", params={"k": 2})
    failed = latest_run(completed)
    assert failed.info.status == "FAILED"
    assert failed.data.params["k"] == "2"  # what it logged stays
    assert "data.genes" not in failed.data.metrics  # logged by a node after the failure
    version = failed.data.tags["run_id"]
    assert ledger(completed)[version]["status"] == "failed"
    assert versions(completed / DESIGN) == before
    assert (completed / INCOMPLETE / version / DESIGN / version / DESIGN.name).is_file()
    assert loaded_design_rows(completed) == rows


def test_ctrl_c_ends_killed_with_what_it_logged(completed: Path):
    before = versions(completed / DESIGN)
    script = Path(__file__).with_name("run_states.py")
    done = subprocess.run(
        [sys.executable, str(script), str(completed), PIPELINE, STOP, "sigint"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0, done.stdout + done.stderr
    killed = latest_run(completed)
    assert killed.info.status == "KILLED", done.stderr[-2000:]
    assert killed.data.params["seed"] == "0" and killed.data.tags["aligned.ended"]
    version = killed.data.tags["run_id"]
    assert ledger(completed)[version]["status"] == "killed"
    assert versions(completed / DESIGN) == before


def test_a_killed_process_is_found_at_the_next_start(completed: Path):
    before = versions(completed / DESIGN)
    while mlflow.active_run():
        mlflow.end_run()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child dies by SIGKILL at STOP
        try:
            os.chdir(completed)
            run(completed, PIPELINE, at=STOP, how="sigkill")
        finally:
            os._exit(1)
    _, status = os.waitpid(child, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    dead = latest_run(completed)
    version = dead.data.tags["run_id"]
    assert dead.info.status == "RUNNING" and ledger(completed)[version]["status"] == "running"
    assert len(versions(completed / DESIGN)) == len(before) + 1

    loaded_design_rows(completed)  # the project starts again

    assert latest_run(completed).info.status == "KILLED"
    assert ledger(completed)[version]["status"] == "killed"
    assert versions(completed / DESIGN) == before
