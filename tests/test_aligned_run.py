"""The user's command end to end through the project CLI, a real KedroSession and MLflow."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import nbformat
import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from nbclient import NotebookClient

from aligned_kedro.cli import cli

ROOT = Path(__file__).resolve().parents[1]

FAST = (
    "data_processing.split.test_fraction:0.3,training.optimiser.epochs:4,refinement.max_iter:2,"
    "evaluation.topology.communities:louvain"
)


def versions(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir()) if path.exists() else []


def newest(path: Path) -> Path:
    """The file of the newest version of the versioned dataset at `path`."""
    return path / versions(path)[-1] / path.name


@pytest.fixture(scope="module")
def finished(project: Path) -> Path:
    """``kedro run --pipeline=aligned --params=k:3,...`` in the sliced project."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(project)
        bootstrap_project(project)
        result = CliRunner().invoke(
            cli,
            ["run", "--pipeline=aligned", f"--params=k:3,{FAST}"],
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
    stages = ["baseline.linear", "baseline.neural_only"]
    stages += [f"round_{r}.{s}" for r in (1, 2) for s in ("align", "refine")]
    for stage in stages:
        assert 0 <= metrics[f"{stage}.balanced_f1"] <= 1
        assert 0 <= metrics[f"{stage}.kb_usage"] <= 1
    history = client.get_metric_history(run.info.run_id, "round_1.align.train_loss")
    assert [m.step for m in history] == [0, 1, 2, 3]
    assert metrics["data.conditions"] == 16
    assert run.data.params["training.adaptor.weights"] == "balanced"
    assert metrics["training.out_of_fold.folds"] >= 2
    assert 0 < metrics["training.w_balanced_f1_train"] <= 1
    assert 0 < metrics["inconsistency.share_missing"] < 1
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "reports")}
    assert {"reports/inconsistency.csv", "reports/gene_universe.csv"} <= artifacts
    assert {"reports/round_1.refined_grn.csv", "reports/round_2.refined_grn.csv"} <= artifacts
    assert metrics["round_1.refine.iterations"] <= 2
    verdicts = [f"round_1.refine.edges_kept_{v}" for v in ("supported", "contradicted")]
    verdicts.append("round_1.refine.edges_kept_no_evidence")
    assert 0 < sum(metrics[name] for name in verdicts) <= metrics["round_1.refine.edges_kept"]


def test_the_mlflow_run_is_named_and_logged_for_comparison(finished: Path):
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{finished / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("aligned_kedro")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_name == "aligned k=3 seed=0"
    assert not [name for name in run.data.params if name.startswith("parameters.")]
    command = run.data.tags["kedro_command"]
    assert command.startswith("kedro run --pipelines=aligned --params=k=3,")
    assert "training.optimiser.epochs=4" in command
    metrics = run.data.metrics
    for name in ("data_f1", "kb_f1", "balanced_f1", "kb_usage"):
        assert metrics[f"final.{name}"] == metrics[f"round_2.refine.{name}"]
    primary = finished / "data" / "03_primary"
    original = pd.read_parquet(newest(primary / "knowledge_base.parquet"))
    final = pd.read_parquet(newest(primary / "round_2.refined_kb.parquet"))
    edges = ["regulator", "target", "sign"]
    merged = original[edges].merge(final[edges], how="outer", indicator=True)
    assert metrics["final.edges_added"] == (merged["_merge"] == "right_only").sum()
    assert metrics["final.edges_removed"] == (merged["_merge"] == "left_only").sum()
    history = client.get_metric_history(run.info.run_id, "round_2.align.train_loss")
    assert [m.step for m in history] == [0, 1, 2, 3]


def test_the_run_ends_with_its_report_in_mlflow(finished: Path):
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{finished / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("aligned_kedro")
    (run,) = client.search_runs([experiment.experiment_id])
    run_id = run.info.run_id
    report = (finished / "data" / "08_reporting" / "report.html").read_text()
    assert run_id in report and report.count("data:image/png;base64,") >= 5
    (version,) = versions(finished / "data" / "08_reporting" / "reports" / "report.html")
    assert "reports/report.html" in {a.path for a in client.list_artifacts(run_id, "reports")}
    plots = {a.path for a in client.list_artifacts(run_id, "plots")}
    assert {"plots/consistency.png", "plots/grn_diff.png", "plots/knowledge_usage.png"} <= plots
    tables = {a.path for a in client.list_artifacts(run_id, "analysis")}
    assert "analysis/consistency_benchmark.csv" in tables
    usage_dir = finished / "data" / "08_reporting" / "analysis" / "knowledge_usage.csv"
    (version,) = versions(usage_dir)
    usage = pd.read_csv(usage_dir / version / "knowledge_usage.csv")
    overall = usage[usage["grouping"] == "all"].set_index("stage")["kb_usage"]
    assert overall["round_1.align"] == pytest.approx(run.data.metrics["round_1.align.kb_usage"])


def test_notebooks_run_in_a_headless_kernel(finished: Path):
    """``make notebooks``: each notebook, executed by a Jupyter kernel started in the
    project's notebooks/ folder, shows its tables and figures without an error, and the
    MLflow store stays the project's (no second mlflow.db in notebooks/). One kernel runs
    both, the B.2 notebook first: each loads the project's extension itself."""
    folder = finished / "notebooks"
    folder.mkdir(exist_ok=True)
    notebooks = {
        name: nbformat.read(ROOT / "notebooks" / name, as_version=4)
        for name in ("knowledge_base.ipynb", "latest_run.ipynb")
    }
    client = NotebookClient(
        notebooks["knowledge_base.ipynb"],
        timeout=600,
        resources={"metadata": {"path": str(folder)}},
    )
    with client.setup_kernel():
        for notebook in notebooks.values():
            client.nb = notebook
            for index, cell in enumerate(notebook.cells):
                client.execute_cell(cell, index)
    for name, figures in (("latest_run.ipynb", 4), ("knowledge_base.ipynb", 0)):
        outputs = [
            out
            for cell in notebooks[name].cells
            if cell.cell_type == "code"
            for out in cell.outputs
        ]
        assert not [out for out in outputs if out.output_type == "error"], name
        images = [out for out in outputs if "image/png" in out.get("data", {})]
        assert len(images) >= figures, name
    assert "baseline.kb_only" in str(notebooks["latest_run.ipynb"].cells)
    assert not list(folder.iterdir())


def test_outputs_are_versioned_and_consistent(finished: Path):
    primary = finished / "data" / "03_primary"
    labels = primary / "labels.parquet"
    (version,) = versions(labels)
    y = pd.read_parquet(labels / version / "labels.parquet")
    x = pd.read_parquet(primary / "perturbations.parquet" / version / "perturbations.parquet")
    assert y.shape == x.shape == (16, 3926)  # 3923 measured genes, 3 latent KB regulators
    universe = primary / "universe.parquet" / version / "universe.parquet"
    assert (~pd.read_parquet(universe)["measured"]).sum() == 3
    assert (y.iloc[:, 3923:] == 0).all().all()
    assert set(pd.unique(y.to_numpy().ravel())) <= {-1, 0, 1}
    assert ((x != 0).sum(axis=1) >= 1).all()
    split_dir = finished / "data" / "05_model_input" / "conditions.json"
    split = json.loads((split_dir / version / "conditions.json").read_text())
    train_genes = set(x.columns[(x.loc[split["train"]] != 0).any()])
    test_genes = set(x.columns[(x.loc[split["test"]] != 0).any()])
    assert split["strategy"] == "unseen_perturbation" and not train_genes & test_genes
    summary = pd.read_csv(newest(finished / "data" / "08_reporting" / "run_summary.csv"))
    assert list(summary["stage"]) == [
        "baseline.no_change",
        "baseline.kb_only",
        "baseline.linear",
        "baseline.neural_only",
        "baseline.static_routing",
        "diagnostic.oracle_routing",
        "round_1.align",
        "round_1.refine",
        "round_2.align",
        "round_2.refine",
    ]
    assert summary["balanced_f1"].between(0, 1).all()
    rounds = summary[summary["stage"].str.startswith("round_")]
    assert (rounds["oracle_balanced_f1"] >= rounds["balanced_f1"] - 1e-12).all()
    assert (rounds["route_switch_share"] == 0).all()  # the default adaptor routes by w


def test_models_load_without_unpickling(finished: Path):
    model_dir = finished / "data" / "06_models" / "round_1.aligned.pt"
    (version,) = versions(model_dir)
    state = torch.load(model_dir / version / "round_1.aligned.pt", weights_only=True)
    assert state["model_config"]["model_type"] == "gnn"
    assert state["adaptor"] is True and len(state["history"]["loss"]) == 4


def test_a_failed_run_leaves_earlier_artefacts_alone(finished: Path):
    kb_dir = finished / "data" / "03_primary" / "knowledge_base.parquet"
    before = versions(kb_dir)
    while mlflow.active_run():  # the CLI run above left its finished run on this process's stack
        mlflow.end_run()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(finished)
        bootstrap_project(finished)
        with (
            KedroSession.create(
                project_path=finished,
                runtime_params={
                    "knowledge_base": {"conflicting_signs": "error"},
                    "training": {"optimiser": {"epochs": 1}},
                },
            ) as session,
            pytest.raises(Exception, match="both signs|conflict"),
        ):
            session.run(pipeline_names=["aligned"])
    assert versions(kb_dir) == before


def test_round_two_refines_the_kb_that_round_one_refined(finished: Path):
    primary = finished / "data" / "03_primary"
    (v1,) = versions(primary / "round_1.refined_kb.parquet")
    (v2,) = versions(primary / "round_2.refined_kb.parquet")
    first = pd.read_parquet(
        primary / "round_1.refined_kb.parquet" / v1 / "round_1.refined_kb.parquet"
    )
    grn = pd.read_csv(newest(finished / "data" / "08_reporting" / "round_2.refined_grn.csv"))
    kept_or_removed = grn[grn["status"].isin(["kept", "removed"])]
    assert len(kept_or_removed) == len(first)
    assert set(grn["status"]) <= {"kept", "added", "removed"}
    edges = grn[grn["regulator"] != grn["target"]]
    reaching = edges["n_observed_inputs"] + edges["n_predicted_inputs"]
    assert edges["support"].notna().all() and (reaching >= 0).all()
    untested = edges.loc[reaching == 0, ["support_observed", "support_predicted"]]
    assert (untested == 0).all().all()
    edited = edges[edges["status"] != "kept"]
    assert edited["drivers"].fillna("").str.len().gt(0).all()


def test_refinement_benchmark_runs_on_the_built_kb(finished: Path):
    while mlflow.active_run():
        mlflow.end_run()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(finished)
        bootstrap_project(finished)
        params = {
            "refinement_benchmark": {"noise": [0.1], "seeds": [0], "penalties": ["l1"]},
            "refinement": {"max_iter": 2},
        }
        with KedroSession.create(project_path=finished, runtime_params=params) as session:
            session.run(
                pipeline_names=["refinement_benchmark"], node_names=["refinement_benchmark"]
            )
    table = pd.read_csv(newest(finished / "data" / "08_reporting" / "refinement_benchmark.csv"))
    assert list(table["noise"]) == [0.1]
    assert table.loc[0, "direct_f1_before"] == pytest.approx(0.9, abs=1e-3)
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{finished / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("aligned_kedro")
    latest = client.search_runs([experiment.experiment_id], order_by=["start_time DESC"])[0]
    assert "refinement_benchmark.l1.noise_10.direct_f1" in latest.data.metrics
