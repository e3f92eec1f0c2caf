"""The run ledger: staged files published only when a run completes, an abandoned run's
versions set aside, and retention that keeps the last complete runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from kedro.io.core import Version

from aligned_kedro.datasets import HTMLDataset, TorchStateDataset
from aligned_kedro.runs import (
    COMPLETE,
    FAILED,
    INCOMPLETE,
    KILLED,
    RunLedger,
    activate,
    deactivate,
    process_alive,
    process_token,
    prune,
    version_folders,
)

V1, V2, V3, V4 = (f"2026-01-0{d}T00.00.00.000Z" for d in range(1, 5))


def write_version(root: Path, dataset: str, version: str, text: str = "x") -> Path:
    folder = root / "data" / dataset
    (folder / version).mkdir(parents=True)
    (folder / version / folder.name).write_text(text)
    return folder / version


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_process_is_alive_only_while_it_runs_as_itself():
    assert process_alive(os.getpid(), process_token(os.getpid()))
    assert not process_alive(os.getpid(), "not its start time")
    assert not process_alive(dead_pid(), None)


def test_a_complete_run_publishes_its_staged_report(tmp_path: Path):
    report = tmp_path / "data" / "08_reporting" / "report.html"
    report.parent.mkdir(parents=True)
    report.write_text("old")
    ledger = RunLedger(tmp_path)
    record = ledger.start(V1, [], ["aligned"])
    activate(ledger, record)
    try:
        HTMLDataset(filepath=str(report)).save("new")
    finally:
        deactivate()
    assert report.read_text() == "old"
    ledger.complete(record)
    assert report.read_text() == "new"
    assert not any(p.name.startswith(".") for p in report.parent.iterdir())
    assert json.loads((tmp_path / "data/.runs" / f"{V1}.json").read_text())["status"] == COMPLETE


def test_a_failed_run_sets_aside_its_versions_and_drops_its_staged_report(tmp_path: Path):
    report = tmp_path / "data" / "report.html"
    keep = write_version(tmp_path, "labels.parquet", V1)
    folder = write_version(tmp_path, "labels.parquet", V2).parent
    ledger = RunLedger(tmp_path)
    record = ledger.start(V2, [folder / V2, folder / V3], ["aligned"])
    activate(ledger, record)
    try:
        HTMLDataset(filepath=str(report)).save("half a report")
    finally:
        deactivate()
    moved = ledger.abandon(record, FAILED)
    assert moved == [tmp_path / INCOMPLETE / V2 / "data" / "labels.parquet" / V2]
    assert [p.name for p in folder.iterdir()] == [V1] and keep.is_dir()
    assert not report.exists() and not list(report.parent.glob(".staged-*"))


def test_a_run_of_a_dead_process_is_recovered_once(tmp_path: Path):
    folder = write_version(tmp_path, "model.pt", V2)
    ledger = RunLedger(tmp_path)
    record = ledger.start(V2, [folder], ["aligned"])
    record.pid, record.token = dead_pid(), None
    ledger.save(record)
    alive = ledger.start(V3, [], ["aligned"])  # this process: left alone
    assert [r.version for r in ledger.recover()] == [V2]
    assert {r.version: r.status for r in ledger.records()} == {V2: KILLED, V3: alive.status}
    assert not folder.exists() and ledger.recover() == []


def test_saves_outside_a_run_are_whole_files(tmp_path: Path):
    path = tmp_path / "model.pt"
    TorchStateDataset(str(path)).save({"w": torch.ones(3)})
    assert torch.load(path, weights_only=True)["w"].tolist() == [1.0, 1.0, 1.0]
    report = tmp_path / "report.html"
    HTMLDataset(filepath=str(report)).save("<p>")
    assert report.read_text() == "<p>" and sorted(p.name for p in tmp_path.iterdir()) == [
        "model.pt",
        "report.html",
    ]
    versioned = TorchStateDataset(str(tmp_path / "m.pt"), version=Version(None, V1))
    versioned.save({"w": torch.zeros(1)})
    assert (tmp_path / "m.pt" / V1 / "m.pt").is_file()


def ledger_of(root: Path, statuses: dict[str, str]) -> None:
    ledger = RunLedger(root)
    for version, status in statuses.items():
        record = ledger.start(version, [], ["aligned"])
        record.status = status
        ledger.save(record)


def test_prune_keeps_the_last_complete_runs_and_each_datasets_newest(tmp_path: Path):
    for version in (V1, V2, V3, V4):
        write_version(tmp_path, "03_primary/labels.parquet", version)
    write_version(tmp_path, "08_reporting/benchmark.csv", V1)  # written by one old run only
    (tmp_path / INCOMPLETE / V1 / "x").mkdir(parents=True)
    ledger_of(tmp_path, {V1: COMPLETE, V2: COMPLETE, V3: COMPLETE, V4: FAILED})
    result = prune(tmp_path, keep=2, dry_run=True)
    assert result.kept_runs == (V2, V3)
    labels = tmp_path / "data/03_primary/labels.parquet"
    assert set(result.removed) == {labels / V1, tmp_path / INCOMPLETE / V1}
    assert (labels / V1).exists()  # a dry run removes nothing
    prune(tmp_path, keep=2)
    assert sorted(p.name for p in labels.iterdir()) == [V2, V3, V4]
    assert (tmp_path / "data/08_reporting/benchmark.csv" / V1).is_dir()
    assert [r.version for r in RunLedger(tmp_path).records()] == [V2, V3, V4]
    assert prune(tmp_path, keep=1).removed == (labels / V2,)


def test_prune_never_removes_the_latest_complete_run(tmp_path: Path):
    for version in (V1, V2):
        write_version(tmp_path, "03_primary/labels.parquet", version)
    ledger_of(tmp_path, {V1: COMPLETE, V2: KILLED})
    assert prune(tmp_path, keep=1).removed == ()
    with pytest.raises(ValueError, match="at least 1"):
        prune(tmp_path, keep=0)


def test_version_folders_skip_hidden_folders(tmp_path: Path):
    write_version(tmp_path, "a.csv", V1)
    write_version(tmp_path, ".incomplete/b.csv", V1)
    assert [(p.name, v) for p, v in version_folders(tmp_path / "data")] == [("a.csv", [V1])]


def test_make_prune_runs_the_project_command(tmp_path: Path):
    write_version(tmp_path, "a.csv", V1)
    done = subprocess.run(
        [sys.executable, "-m", "aligned_kedro.runs", "prune", "--keep", "5", "--project", tmp_path],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "removed 0 folders" in done.stdout


def test_a_run_reads_back_its_own_version_while_a_newer_run_writes(tmp_path: Path):
    import pandas as pd
    from kedro.io import DataCatalog
    from kedro.pipeline import Pipeline, node
    from kedro_datasets.pandas import CSVDataset

    from aligned_kedro.hooks import pin_own_versions

    path = str(tmp_path / "table.csv")
    mine, newer = "2026-01-01T00.00.00.000Z", "2026-01-01T00.00.01.000Z"
    catalog = DataCatalog({"table": CSVDataset(filepath=path, version=Version(None, mine))})
    pipeline = Pipeline([node(lambda: None, None, "table"), node(len, "table", "n")])
    assert pin_own_versions(pipeline, catalog, mine) == 1
    # a run started later saves first: Kedro alone would load its table as the newest
    CSVDataset(filepath=path, version=Version(None, newer)).save(pd.DataFrame({"run": ["newer"]}))
    catalog.save("table", pd.DataFrame({"run": ["mine"]}))
    assert catalog.load("table")["run"].tolist() == ["mine"]
    assert CSVDataset(filepath=path, version=Version(None, None)).load()["run"].tolist() == [
        "newer"
    ]
