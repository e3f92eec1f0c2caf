"""Predicting end to end: an aligned run leaves a predictor; the predict pipeline, the Python
API and the registered MLflow model give the same predictions; bad requests write nothing."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import anndata
import mlflow
import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from conftest import project_copy, write_slice
from kedro.framework.startup import bootstrap_project

from aligned_kedro.cli import cli
from aligned_kedro.core import deduce, from_state, macro_f1, predict
from aligned_kedro.core.knowledge import compile_kb
from aligned_kedro.core.prediction import TABLE_COLUMNS
from aligned_kedro.predictor import Predictor

FAST = "training.optimiser.epochs:4,refinement.max_iter:2,data_processing.split.test_fraction:0.3"
ASKED = "crp;crp+fnr;gadE"


def versions(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir()) if path.exists() else []


def newest(path: Path) -> Path:
    return path / versions(path)[-1] / path.name


def kedro(project: Path, *args: str):
    while mlflow.active_run():
        mlflow.end_run()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(project)
        bootstrap_project(project)
        result = CliRunner().invoke(cli, ["run", *args])
    while mlflow.active_run():
        mlflow.end_run()
    return result


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sliced project after ``aligned`` (up to its predictor) and one ``predict``."""
    path = project_copy(tmp_path_factory.mktemp("predict"))
    write_slice(path / "data" / "01_raw" / "ecoli")
    uri = f"sqlite:///{path / 'mlflow.db'}"
    config = path / "conf" / "base" / "mlflow.yml"
    # mlflow caches its store by URI: the relative default would reach another test's project
    config.write_text(config.read_text().replace("sqlite:///mlflow.db", uri))
    result = kedro(path, "--pipeline=aligned", "--to-outputs=predictor", f"--params=k:3,{FAST}")
    assert result.exit_code == 0, result.output
    result = kedro(path, "--pipeline=predict", f"--params=predict.perturbations={ASKED}")
    assert result.exit_code == 0, result.output
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return path


def runs(project: Path) -> list:
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("aligned_kedro")
    return client.search_runs([experiment.experiment_id], order_by=["start_time ASC"])


def test_predict_writes_the_table_the_h5ad_and_the_cell_eval_tables(project: Path):
    reporting = project / "data" / "08_reporting"
    table = pd.read_csv(newest(reporting / "predictions.csv"))
    assert list(table.columns) == list(TABLE_COLUMNS)
    n_genes = table["gene_id"].nunique()
    assert table["perturbation"].unique().tolist() == ["crp", "crp+fnr", "gadE"]
    assert len(table) == 3 * n_genes == 3 * 3926  # 3 latent KB regulators
    assert table.loc[~table["gene_measured"], "observed"].isna().all()
    assert set(table["prediction"]) <= {-1, 0, 1} and set(table["source"]) <= {"kb", "neural"}
    crp = table[table["perturbation"].eq("crp")]
    assert crp["path"].dropna().str.startswith("crp").all() and crp["path"].notna().sum() > 10
    parquet = pd.read_parquet(newest(reporting / "predictions.parquet"))
    assert parquet["prediction"].tolist() == table["prediction"].tolist()
    adata = anndata.read_h5ad(newest(reporting / "predictions.h5ad"))
    assert adata.shape == (3, n_genes) and adata.X.dtype == np.int8
    aligned_run, predict_run = runs(project)
    assert adata.uns["run_id"] == aligned_run.info.run_id and adata.uns["k"] == 3
    assert np.array_equal(adata.X[1], table["prediction"].to_numpy()[n_genes : 2 * n_genes])
    for name in ("predictions_de", "test_de_predicted", "test_de_observed"):
        de = pd.read_csv(newest(reporting / "cell_eval" / f"{name}.csv"))
        assert {"target", "feature", "log2_fold_change", "p_value", "fdr"} <= set(de.columns)
    client = mlflow.MlflowClient()
    artifacts = {a.path for a in client.list_artifacts(predict_run.info.run_id, "predictions")}
    assert {"predictions/predictions.csv", "predictions/predictions.h5ad"} <= artifacts


def test_predict_writes_a_report_with_the_predictions_section(project: Path):
    html = newest(project / "data" / "08_reporting" / "predictions_report.html").read_text()
    aligned_run, predict_run = runs(project)
    assert '<h2 id="predictions">Predictions</h2>' in html
    assert f"saved by aligned run {aligned_run.info.run_id} (k = 3," in html
    assert predict_run.info.run_id in html
    for perturbation in ASKED.split(";"):
        assert f"<p>{perturbation} (" in html
    counts = r"<p>crp \(KO\): \d+ genes up and \d+ down, \d+ of them from the KB and \d+ from f_y"
    assert re.search(counts + r"; most sure: \w+ (up|down) \((kb|neural), [01]\.\d\d", html)
    client = mlflow.MlflowClient()
    artifacts = {a.path for a in client.list_artifacts(predict_run.info.run_id, "predictions")}
    assert "predictions/predictions_report.html" in artifacts


def test_measured_test_conditions_get_the_final_stages_y_bar(project: Path):
    predictor = Predictor.from_run(project / "data" / "06_models" / "predictor.pt")
    test = predictor.measured_test()
    primary = project / "data" / "03_primary"
    refined = pd.read_parquet(newest(primary / "round_2.refined_kb.parquet"))
    state = torch.load(
        newest(project / "data" / "06_models" / "round_2.aligned.pt"), weights_only=True
    )
    universe = pd.read_parquet(newest(primary / "universe.parquet"))
    kb = compile_kb(refined, universe["gene_id"].tolist(), conflict="both")
    X = test.X.toarray()
    deduced = deduce(kb, X, 3, abstention=predictor.bundle.abstention)
    expected = predict(from_state(state), X, deduced)["y_bar"]
    assert np.array_equal(test.y_bar, expected)
    labels = pd.read_parquet(newest(primary / "labels.parquet"))
    measured = universe["measured"].to_numpy(bool)  # latent KB genes have no labels
    y = labels.loc[test.requests["perturbation"], universe.loc[measured, "gene_id"]].to_numpy()
    aligned_run = runs(project)[0]
    f1 = macro_f1(y, test.y_bar[:, measured])["f1"]
    assert f1 == aligned_run.data.metrics["round_2.refine.data_f1"]


def test_the_registered_model_and_the_python_api_give_the_pipelines_predictions(project: Path):
    table = pd.read_csv(newest(project / "data" / "08_reporting" / "predictions.csv"))
    asked = pd.DataFrame({"perturbation": ["crp", "crp+fnr"]})
    model = mlflow.pyfunc.load_model("models:/aligned-ecoli/latest")
    served = model.predict(asked)
    by_run = Predictor.from_run(runs(project)[0].info.run_id).predict(asked)
    pd.testing.assert_frame_equal(served, by_run)
    first = table[table["perturbation"].isin(["crp", "crp+fnr"])].reset_index(drop=True)
    assert served["prediction"].tolist() == first["prediction"].tolist()
    assert served["path"].fillna("").tolist() == first["path"].fillna("").tolist()
    info = mlflow.models.get_model_info("models:/aligned-ecoli/latest")
    assert info.signature.inputs.input_names() == ["perturbation", "perturbation_type"]


def test_mlflow_models_predict_reads_a_csv(project: Path, tmp_path: Path):
    requests = tmp_path / "requests.csv"
    pd.DataFrame({"perturbation": ["gadE"], "perturbation_type": ["OE"]}).to_csv(
        requests, index=False
    )
    output = tmp_path / "out.json"
    command = [
        str(Path(sys.executable).with_name("mlflow")),
        "models",
        "predict",
        "-m",
        "models:/aligned-ecoli/latest",
        "-i",
        str(requests),
        "-t",
        "csv",
        "-o",
        str(output),
        "--env-manager",
        "local",
    ]
    uri = f"sqlite:///{project / 'mlflow.db'}"
    env = {"MLFLOW_TRACKING_URI": uri, "PATH": str(Path(sys.executable).parent)}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = pd.DataFrame(json.loads(output.read_text())["predictions"])
    assert rows["perturbation"].eq("gadE").all() and rows["perturbation_type"].eq("OE").all()
    assert len(rows) == 3926


def test_explain_reproduces_the_tables_path_counts(project: Path):
    predictor = Predictor.from_run(project / "data" / "06_models" / "predictor.pt")
    table = predictor.predict("crp+fnr")
    row = table[(table["paths_pos"] + table["paths_neg"]) > 0].iloc[-1]
    explanation = predictor.explain("crp+fnr", row["gene_name"], limit=5)
    assert (explanation.paths_pos, explanation.paths_neg) == (row["paths_pos"], row["paths_neg"])
    assert explanation.delta_kb == row["delta_kb"] and explanation.prediction == row["prediction"]
    assert 1 <= len(explanation.paths) <= 5


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ("predict.perturbations=crpp", "closest known names: crp"),
        ("predict.perturbations=crp;CRP", "asked twice"),
        ("predict.perturbations=crp,predict.perturbation_type=delete", "did you mean 'deletion'"),
        ("predict.perturbations=crp,predict.k=5", "k=3; k=5 was asked"),
    ],
)
def test_a_refused_request_writes_nothing(project: Path, params: str, message: str):
    folder = project / "data" / "08_reporting" / "predictions.csv"
    before = versions(folder)
    result = kedro(project, "--pipeline=predict", f"--params={params}")
    assert result.exit_code != 0
    assert message in result.output  # bad input: one line, not a traceback
    assert versions(folder) == before
