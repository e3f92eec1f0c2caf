"""Versioned report datasets: each save is a new version, logged to the active MLflow run."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
import pytest
from kedro.io.core import DatasetError, Version

from aligned_kedro.datasets import CSVArtifactDataset


@pytest.fixture
def tracking(tmp_path: Path):
    """A throw-away MLflow store for the test; the previous tracking URI afterwards."""
    while mlflow.active_run():
        mlflow.end_run()
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    yield
    mlflow.set_tracking_uri(previous)


def test_report_versions_are_kept_and_logged(tmp_path: Path, tracking):
    path = tmp_path / "reporting" / "run_summary.csv"
    experiment = mlflow.MlflowClient().create_experiment("reports")
    with mlflow.start_run(experiment_id=experiment) as run:
        for version, value in (("2026-01-01T00.00.00.000Z", 1), ("2026-01-02T00.00.00.000Z", 2)):
            dataset = CSVArtifactDataset(
                filepath=str(path), artifact_path="reports", version=Version(None, version)
            )
            dataset.save(pd.DataFrame({"x": [value]}))
    assert sorted(p.name for p in path.iterdir()) == [
        "2026-01-01T00.00.00.000Z",
        "2026-01-02T00.00.00.000Z",
    ]
    newest = CSVArtifactDataset(filepath=str(path), version=Version(None, None)).load()
    assert newest["x"].tolist() == [2]
    client = mlflow.MlflowClient()
    assert [a.path for a in client.list_artifacts(run.info.run_id, "reports")] == [
        "reports/run_summary.csv"
    ]


def test_a_flat_file_from_an_unversioned_run_is_named_not_overwritten(tmp_path: Path):
    path = tmp_path / "run_summary.csv"
    path.write_text("x\n1\n")
    dataset = CSVArtifactDataset(
        filepath=str(path), version=Version(None, "2026-01-01T00.00.00.000Z")
    )
    with pytest.raises(DatasetError, match=r"run_summary.csv is a single file.*Move the file away"):
        dataset.save(pd.DataFrame({"x": [2]}))
    assert path.read_text() == "x\n1\n"
