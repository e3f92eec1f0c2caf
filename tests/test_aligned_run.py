"""The user's command end to end through the project CLI, a real KedroSession and MLflow."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from click.testing import CliRunner
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from aligned_kedro.cli import cli


def versions(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir()) if path.exists() else []


@pytest.fixture(scope="module")
def finished(project: Path) -> Path:
    """``kedro run --pipeline=aligned --params=k:3,...`` in the sliced project."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(project)
        bootstrap_project(project)
        result = CliRunner().invoke(
            cli,
            ["run", "--pipeline=aligned", "--params=k:3,data_processing.split.test_fraction:0.3"],
            catch_exceptions=False,
        )
    assert result.exit_code == 0, result.output
    return project


def test_mlflow_run_records_params_and_stage_metrics(finished: Path):
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{finished / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("aligned_kedro")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.params["k"] == "3"
    assert run.data.params["data_processing.split.test_fraction"] == "0.3"
    metrics = run.data.metrics
    for name in ("data_f1", "kb_f1", "balanced_f1"):
        assert 0 <= metrics[f"baseline.kb_only.{name}"] <= 1
    assert metrics["baseline.kb_only.kb_f1"] == 1.0
    assert metrics["data.conditions"] == 16
    assert 0 < metrics["inconsistency.share_missing"] < 1
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "reports")}
    assert {"reports/inconsistency.csv", "reports/gene_universe.csv"} <= artifacts


def test_outputs_are_versioned_and_consistent(finished: Path):
    primary = finished / "data" / "03_primary"
    labels = primary / "labels.parquet"
    (version,) = versions(labels)
    y = pd.read_parquet(labels / version / "labels.parquet")
    x = pd.read_parquet(primary / "perturbations.parquet" / version / "perturbations.parquet")
    assert y.shape == x.shape == (16, 3923)
    assert set(pd.unique(y.to_numpy().ravel())) <= {-1, 0, 1}
    assert ((x != 0).sum(axis=1) >= 1).all()
    split_dir = finished / "data" / "05_model_input" / "conditions.json"
    split = json.loads((split_dir / version / "conditions.json").read_text())
    train_genes = set(x.columns[(x.loc[split["train"]] != 0).any()])
    test_genes = set(x.columns[(x.loc[split["test"]] != 0).any()])
    assert split["strategy"] == "unseen_perturbation" and not train_genes & test_genes
    summary = pd.read_csv(finished / "data" / "08_reporting" / "run_summary.csv")
    assert list(summary["stage"]) == ["baseline.no_change", "baseline.kb_only"]


def test_a_failed_run_leaves_earlier_artefacts_alone(finished: Path):
    kb_dir = finished / "data" / "03_primary" / "knowledge_base.parquet"
    before = versions(kb_dir)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(finished)
        bootstrap_project(finished)
        with (
            KedroSession.create(
                project_path=finished,
                runtime_params={"knowledge_base": {"conflicting_signs": "error"}},
            ) as session,
            pytest.raises(Exception, match="both signs|conflict"),
        ):
            session.run(pipeline_names=["aligned"])
    assert versions(kb_dir) == before
