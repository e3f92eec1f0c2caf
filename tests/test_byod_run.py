"""A new dataset added with catalog and parameter entries only: a synthetic GEARS-format
Perturb-seq screen from a known GRN, run through ``aligned`` under its own namespace, with
a GEARS-style GO graph (go.csv) as the GNN's graph."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import anndata
import mlflow
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from conftest import add_dataset, kedro_run, latest, project_copy

from aligned_kedro.datasets import AnnDataDataset

FAST = "training.optimiser.epochs:3,refinement.max_iter:2"
N_GENES = 40
# regulator -> (activated targets, repressed targets); GENE2 is regulated data never perturb
GRN = {0: (range(5, 10), range(10, 13)), 1: (range(13, 17), range(17, 19)), 2: (range(19, 23), ())}
CELLS = {"ctrl": 150, "GENE0+ctrl": 60, "GENE1+ctrl": 60, "GENE0+GENE1": 60}


def knockdown_effect(perturbed: list[int]) -> np.ndarray:
    """CRISPRi lowers the gene and its activated targets and raises its repressed ones."""
    factor = np.ones(N_GENES)
    for g in perturbed:
        factor[g] *= 0.2
        activated, repressed = GRN[g]
        factor[list(activated)] *= 0.3
        factor[list(repressed)] *= 3.0
    return factor


def expected_labels(perturbed: list[int]) -> np.ndarray:
    return np.sign(np.log(knockdown_effect(perturbed))).astype(int)


def screen(seed: int = 0) -> anndata.AnnData:
    rng = np.random.default_rng(seed)
    mean = rng.uniform(20, 60, N_GENES)
    blocks, labels = [], []
    for label, n in CELLS.items():
        perturbed = [int(t[4:]) for t in label.split("+") if t != "ctrl"]
        blocks.append(rng.poisson(mean * knockdown_effect(perturbed), size=(n, N_GENES)))
        labels += [label] * n
    var = pd.DataFrame(
        {"gene_name": [f"GENE{i}" for i in range(N_GENES)]},
        index=[f"ENSG{i:011d}" for i in range(N_GENES)],
    )
    obs = pd.DataFrame({"condition": labels}, index=[f"cell{i}" for i in range(len(labels))])
    return anndata.AnnData(sp.csr_matrix(np.vstack(blocks).astype(np.float32)), obs=obs, var=var)


def go_graph() -> pd.DataFrame:
    """GEARS go.csv: every GRN edge as a similarity, plus a lower-case name, a gene the
    screen does not have and a self-loop; 19 edges remain."""
    rows = [
        (f"GENE{g}", f"GENE{t}", 0.5 + t / 100)
        for g, (activated, repressed) in GRN.items()
        for t in [*activated, *repressed]
    ]
    rows += [("gene3", "GENE4", 0.9), ("MYC", "GENE5", 0.9), ("GENE6", "GENE6", 1.0)]
    return pd.DataFrame(rows, columns=["source", "target", "importance"])


def collectri() -> pd.DataFrame:
    rows = [
        ("TFB" if g == 1 else f"GENE{g}", f"GENE{t}", sign)
        for g, (activated, repressed) in GRN.items()
        for targets, sign in ((activated, 1), (repressed, -1))
        for t in targets
    ]
    return pd.DataFrame(rows, columns=["source", "target", "weight"])


CATALOG = """
synth.raw_cells:
  type: aligned_kedro.datasets.AnnDataDataset
  filepath: data/01_raw/synth/screen.h5ad

synth.raw_edges:
  type: pandas.CSVDataset
  filepath: data/01_raw/synth/collectri.csv

synth.raw_synonyms:
  type: pandas.CSVDataset
  filepath: data/01_raw/synth/synonyms.tsv
  load_args: {sep: "\\t"}

synth.raw_gene_graph:
  type: pandas.CSVDataset
  filepath: data/01_raw/synth/go.csv

"synth.{name}_metrics":
  type: aligned_kedro.datasets.MetricsDataset
  filepath: data/08_reporting/metrics/synth.{name}.json
  prefix: synth
  versioned: true
"""

PARAMETERS = """
synth:
  data_processing:
    input: anndata
    cells:
      perturbation_type: CRISPRi
      scale: counts
      pseudo_replicates: 3
    edges:
      format: collectri
    split:
      strategy: fixed
      test: [GENE0+GENE1]
  training:
    model:
      graph: gene_graph
"""


PER_CELL = """
      labels: per_cell
      per_cell:
        n_cells: 20
"""


def write_project(path: Path, parameters: str) -> Path:
    """The repository's conf plus two files, one edited line and a data folder."""
    path = project_copy(path)
    raw = path / "data" / "01_raw" / "synth"
    raw.mkdir(parents=True)
    AnnDataDataset(str(raw / "screen.h5ad")).save(screen())
    collectri().to_csv(raw / "collectri.csv", index=False)
    go_graph().to_csv(raw / "go.csv", index=False)
    (raw / "synonyms.tsv").write_text("name\tgenes\nTFB\tGENE1\n")
    return add_dataset(path, "synth", CATALOG, parameters)


def run_synth(project: Path) -> Path:
    result = kedro_run(project, "--pipeline=aligned", "--namespaces=synth", f"--params=k:2,{FAST}")
    assert result.exit_code == 0, result.output
    return project


@pytest.fixture(scope="module")
def byod_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_project(tmp_path_factory.mktemp("byod"), textwrap.dedent(PARAMETERS))


@pytest.fixture(scope="module")
def finished(byod_project: Path) -> Path:
    return run_synth(byod_project)


@pytest.fixture(scope="module")
def per_cell_finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same screen and conf with ``cells.labels: per_cell``."""
    parameters = textwrap.dedent(PARAMETERS).replace(
        "      pseudo_replicates: 3\n", "      pseudo_replicates: 3\n" + PER_CELL.lstrip("\n")
    )
    assert "labels: per_cell" in parameters
    return run_synth(write_project(tmp_path_factory.mktemp("percell"), parameters))


def test_labels_recover_the_known_grn(finished: Path):
    primary = finished / "data" / "03_primary"
    y = pd.read_parquet(latest(primary / "synth.labels.parquet"))
    x = pd.read_parquet(latest(primary / "synth.perturbations.parquet"))
    assert sorted(y.index) == ["GENE0", "GENE0+GENE1", "GENE1"]
    assert list(y.columns) == [f"ENSG{i:011d}" for i in range(N_GENES)]
    for condition, perturbed in (("GENE0", [0]), ("GENE1", [1]), ("GENE0+GENE1", [0, 1])):
        assert y.loc[condition].tolist() == expected_labels(perturbed).tolist()
        assert x.loc[condition].to_numpy()[perturbed].tolist() == [-1] * len(perturbed)
        assert (x.loc[condition] != 0).sum() == len(perturbed)
    unlabelled = pd.read_parquet(latest(primary / "synth.unlabelled.parquet"))
    assert list(unlabelled.index) == ["unlabelled__ENSG00000000002"]
    assert unlabelled.to_numpy().sum() == -1


def test_split_validation_report_and_metrics_are_namespaced(finished: Path):
    split = json.loads(
        latest(finished / "data" / "05_model_input" / "synth.conditions.json").read_text()
    )
    assert split["test"] == ["GENE0+GENE1"] and split["train"] == ["GENE0", "GENE1"]
    report = pd.read_csv(latest(finished / "data" / "08_reporting" / "synth.validation.csv"))
    checks = report.set_index("check")
    assert checks.loc["genes.in_kb", "value"] == 3 + 8 + 6 + 4  # regulators and targets
    assert checks.loc["perturbed.outside_kb", "status"] == "ok"
    assert checks.loc["inconsistency.share_conflicting", "value"] == 0
    assert not report["status"].eq("error").any()
    # the run's own tracking URI: an earlier project in this process may hold the sqlite store
    client = mlflow.MlflowClient(tracking_uri=mlflow.get_tracking_uri())
    experiments = [e.experiment_id for e in client.search_experiments()]
    (run,) = client.search_runs(experiments, 'metrics."synth.data.conditions" = 3')
    metrics = run.data.metrics
    assert metrics["synth.data.conditions"] == 3
    assert metrics["synth.baseline.kb_only.kb_f1"] == 1.0
    assert 0 <= metrics["synth.round_2.refine.balanced_f1"] <= 1
    assert not any(name.startswith("data.") for name in metrics)


def test_the_gnn_passes_messages_over_the_go_graph(finished: Path):
    report = pd.read_csv(latest(finished / "data" / "08_reporting" / "synth.gene_graph.csv"))
    rows = dict(zip(report["reason"], report["rows"], strict=True))
    assert rows["source not a gene of the gene table (1 genes)"] == 1
    assert rows["self-loop"] == 1
    assert rows["gene graph edges"] == 19
    graph = pd.read_parquet(latest(finished / "data" / "03_primary" / "synth.gnn_graph.parquet"))
    assert len(graph) == 19 and graph["weight"].between(0.5, 0.9).all()
    models = finished / "data" / "06_models"
    for model in ("synth.neural_only", "synth.round_1.aligned", "synth.round_2.aligned"):
        state = torch.load(latest(models / f"{model}.pt"), weights_only=True)
        assert state["graph"] == {
            "kind": "gene_graph",
            "genes": N_GENES,
            "edges": 19,
            "genes_with_edges": 3 + 18 + 2,  # regulators, their targets, GENE3 and GENE4
            "weighted": True,
        }
    client = mlflow.MlflowClient(tracking_uri=mlflow.get_tracking_uri())
    experiments = [e.experiment_id for e in client.search_experiments()]
    (run,) = client.search_runs(experiments, 'metrics."synth.data.conditions" = 3')
    assert run.data.metrics["synth.training.gnn_graph.edges"] == 19


def test_per_cell_rows_recover_the_known_grn_and_the_run_finishes(per_cell_finished: Path):
    primary = per_cell_finished / "data" / "03_primary"
    y = pd.read_parquet(latest(primary / "synth.labels.parquet"))
    x = pd.read_parquet(latest(primary / "synth.perturbations.parquet"))
    rows = pd.read_parquet(latest(primary / "synth.label_rows.parquet"))
    assert list(y.index) == list(x.index) == rows["row"].tolist() and len(y) == 3 * 20
    assert rows.groupby("condition")["cell"].nunique().to_dict() == {
        "GENE0": 20,
        "GENE0+GENE1": 20,
        "GENE1": 20,
    }
    for condition, perturbed in (("GENE0", [0]), ("GENE1", [1]), ("GENE0+GENE1", [0, 1])):
        cells = rows.loc[rows["condition"].eq(condition), "row"]
        expected = expected_labels(perturbed)
        assert (x.loc[cells].to_numpy() == x.loc[cells].iloc[0].to_numpy()).all()
        assert x.loc[cells].iloc[0].to_numpy()[perturbed].tolist() == [-1] * len(perturbed)
        agreement = (y.loc[cells].to_numpy() == expected).mean()
        assert agreement > 0.9, (condition, agreement)
    split = json.loads(
        latest(per_cell_finished / "data" / "05_model_input" / "synth.conditions.json").read_text()
    )
    assert split["conditions"]["test"] == ["GENE0+GENE1"]
    assert sorted(split["test"]) == sorted(rows.loc[rows["condition"].eq("GENE0+GENE1"), "row"])
    assert not set(split["train"]) & set(split["test"])
    reporting = per_cell_finished / "data" / "08_reporting"
    checks = pd.read_csv(latest(reporting / "synth.validation.csv")).set_index("check")
    assert checks.loc["split.test", "value"] == 1 and checks.loc["split.train", "value"] == 2
    sampled = pd.read_csv(latest(reporting / "synth.cells.csv")).set_index("condition")
    assert sampled.loc["GENE0", "n_cells"] == 60 and sampled.loc["GENE0", "n_sampled"] == 20
    client = mlflow.MlflowClient(tracking_uri=mlflow.get_tracking_uri())
    experiments = [e.experiment_id for e in client.search_experiments()]
    (run,) = client.search_runs(experiments, 'metrics."synth.data.label_rows" = 60')
    metrics = run.data.metrics
    assert metrics["synth.data.conditions"] == 3 and metrics["synth.data.test_rows"] == 20
    assert 0 <= metrics["synth.round_2.refine.balanced_f1"] <= 1
    assert 0 <= metrics["synth.baseline.kb_only.kb_f1"] <= 1
