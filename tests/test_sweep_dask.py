"""scripts/sweep.py --dask local: a 2-seed sweep as tasks of a 2-worker LocalCluster,
logged through the sweep's own MLflow server and read back into the summary table.

Two kedro runs and a server take about a minute on 2 cores; marked `scale` so that
`make test-scale` runs it alone, and part of `make test` (CI)."""

from __future__ import annotations

import os
import re
import urllib.request
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from conftest import project_copy, write_slice
from test_sweep import sweep

import aligned_kedro

# one epoch of a small MLP, one refinement iteration, w = 0.5 (no out-of-fold trainings)
TINY = (
    "training.optimiser.epochs:1,refinement.max_iter:1,training.adaptor.weights:constant,"
    "training.model.model_type:mlp,training.model.hidden:8,"
    "data_processing.split.test_fraction:0.3"
)
N_GENES = 150


def tiny_project(path: Path) -> Path:
    """The sliced project cut to the knocked-out genes and their first targets."""
    project_copy(path)
    raw = path / "data" / "01_raw" / "ecoli"
    write_slice(raw)
    design = pd.read_csv(raw / "design.tsv", sep="\t", keep_default_na=False)
    genes = pd.read_csv(raw / "genes.tsv", sep="\t", keep_default_na=False)
    trn = pd.read_csv(raw / "trn.tsv.gz", sep="\t", keep_default_na=False)
    expression = pd.read_parquet(raw / "expression.parquet")
    perturbed = set(design.loc[design["role"] == "perturbed", "perturbation"])
    knocked_out = genes.loc[genes["gene_name"].isin(perturbed), "gene_id"]
    targets = trn.loc[trn["regulator"].isin(perturbed), "target"]
    keep = list(dict.fromkeys([*sorted(knocked_out), *targets]))[:N_GENES]
    expression.loc[expression.index.isin(keep)].to_parquet(raw / "expression.parquet")
    return path


@pytest.mark.scale
def test_a_dask_sweep_logs_both_seeds_through_its_server(tmp_path, monkeypatch, capsys):
    project = tiny_project(tmp_path)
    # the workers (spawned with this sys.path) import the sweep by name; their `kedro run`s,
    # started in the project copy, import the package this test imports
    monkeypatch.syspath_prepend(str(Path(sweep.__file__).parent))
    src = str(Path(aligned_kedro.__file__).resolve().parents[1])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]))
    argv = ["--dask", "local", "--workers", "2", "--only", "default", "--seeds", "0", "1"]
    argv += ["--params", TINY, "--project", str(project), "--sweep", "dask-test"]
    assert sweep.main(argv) == 0
    server = re.search(r"MLflow at (http://\S+)", capsys.readouterr().out)[1]
    with pytest.raises(OSError):  # stopped with the sweep
        urllib.request.urlopen(f"{server}/health", timeout=5)

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("aligned_kedro")
    runs = client.search_runs([experiment.experiment_id], "tags.sweep = 'dask-test'")
    assert sorted(run.data.params["seed"] for run in runs) == ["0", "1"]
    for run in runs:
        assert run.info.status == "FINISHED"
        assert run.data.params["training.optimiser.epochs"] == "1"
        for stage in ("baseline.neural_only", "round_1.align", "round_2.refine"):
            assert 0 <= run.data.metrics[f"{stage}.balanced_f1"] <= 1
    assert len({run.data.tags["aligned.pid"] for run in runs}) == 2
    table = pd.read_csv(project / "data" / "08_reporting" / "sweep_dask-test.csv")
    assert table["n_runs"].tolist() == [2, 2, 2]
    final = [run.data.metrics["round_2.refine.data_f1"] for run in runs]
    last = table.set_index("stage").loc["A-R-A-R (last refine)", "data_f1_mean"]
    assert last == pytest.approx(sum(final) / 2)
