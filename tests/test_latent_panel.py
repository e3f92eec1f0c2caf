"""A targeted panel: 300 measured genes of a 2,000-gene KB, with the knocked-out genes and
the regulators between them and the measured genes unmeasured. With ``kb_genes: latent``
``aligned`` keeps every KB-covered knockout and deduces its measured responses through
the unmeasured regulators; with ``drop`` (the data_processing nodes alone) those knockouts
are dropped, counted by reason."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, add_dataset, kedro_run, latest, project_copy
from omegaconf import OmegaConf

from aligned_kedro.core import compile_kb, deduce
from aligned_kedro.core.data.design import KB_GENE_DROPPED, NOT_MEASURED, UNKNOWN_NAME
from aligned_kedro.core.errors import InputError
from aligned_kedro.pipelines.data_processing import nodes

K = 2
PARAMETERS_FILE = "parameters_data_processing.yml"
FAST = "training.optimiser.epochs:3,refinement.max_iter:2,training.adaptor.folds:2"
MEASURED_KO = [f"G{i:04d}" for i in range(4)]  # measured knockouts, regulating directly
LATENT_KO = [f"G{i:04d}" for i in range(4, 12)]  # unmeasured knockouts
BETWEEN = [f"G{i:04d}" for i in range(12, 100)]  # unmeasured regulators in between
SINKS = [f"G{i:04d}" for i in range(100, 1704)]  # unmeasured targets: reach nothing measured
TARGETS = [f"G{i:04d}" for i in range(1704, 2000)]
MEASURED = MEASURED_KO + TARGETS  # 300 genes
OUTSIDE = [f"G{i:04d}" for i in range(2000, 2010)]  # in the gene table, not in the KB
NAMES = [f"G{i:04d}" for i in range(2010)]


def gene_id(name: str) -> str:
    return f"ENSG{int(name[1:]):011d}"


def kb() -> pd.DataFrame:
    """CollecTRI-style ``source, target, weight`` over 2,000 genes: knockouts -> regulators
    in between -> measured targets and unmeasured sinks; measured knockouts also regulate
    measured targets directly."""
    rng = np.random.default_rng(0)
    rows = []
    for i, name in enumerate(MEASURED_KO + LATENT_KO):
        for between in rng.choice(BETWEEN, size=3, replace=False):
            rows.append((name, str(between), int(rng.choice([-1, 1]))))
        if name in MEASURED_KO:
            rows += [(name, TARGETS[(7 * i + j) % len(TARGETS)], 1) for j in range(5)]
    for i, name in enumerate(BETWEEN):
        targets = [TARGETS[(8 * i + j) % len(TARGETS)] for j in range(8)]
        sinks = [SINKS[(19 * i + j) % len(SINKS)] for j in range(19)]
        rows += [(name, t, int(rng.choice([-1, 1]))) for t in targets + sinks]
    return pd.DataFrame(rows, columns=["source", "target", "weight"]).drop_duplicates(
        ["source", "target"]
    )


def truth(edges: pd.DataFrame, knockouts: list[str]) -> pd.DataFrame:
    """δ of every knockout over every KB gene (the data follow the KB exactly)."""
    genes = NAMES[:2000]
    table = edges.rename(columns={"source": "regulator", "weight": "sign"})
    x = np.zeros((len(knockouts), len(genes)), dtype=np.int8)
    x[np.arange(len(knockouts)), [genes.index(g) for g in knockouts]] = -1
    return pd.DataFrame(deduce(compile_kb(table, genes), x, K), index=knockouts, columns=genes)


def write_data(raw: Path) -> None:
    rng = np.random.default_rng(1)
    edges = kb()
    knockouts = MEASURED_KO + LATENT_KO
    effect = truth(edges, knockouts)[MEASURED]
    base = rng.uniform(6, 10, len(MEASURED))
    samples, design = {}, []
    for i in range(4):
        samples[f"wt_{i}"] = base + rng.normal(0, 0.15, len(MEASURED))
        design.append((f"wt_{i}", "wt", "control", "", "", "wt"))
    extra = {"ko_typo": "G00O4", "ko_outside": OUTSIDE[5]}
    for name in [*knockouts, *extra]:
        condition = extra.get(name) and name or f"ko_{name}"
        perturbed = extra.get(name, name)
        shift = 2.0 * effect.loc[name].to_numpy() if name in effect.index else 0.0
        for r in range(3):
            sample = f"{condition}_{r}"
            samples[sample] = base + shift + rng.normal(0, 0.15, len(MEASURED))
            design.append((sample, condition, "perturbed", perturbed, "KO", "wt"))
    raw.mkdir(parents=True)
    expression = pd.DataFrame(samples, index=[gene_id(g) for g in MEASURED])
    expression.to_parquet(raw / "expression.parquet")
    columns = ["sample_id", "condition", "role", "perturbation", "perturbation_type"]
    pd.DataFrame(design, columns=[*columns, "control_group"]).to_csv(
        raw / "design.tsv", sep="\t", index=False
    )
    genes = pd.DataFrame({"gene_id": [gene_id(g) for g in NAMES], "gene_name": NAMES})
    genes.assign(go_count=0).to_csv(raw / "genes.tsv", sep="\t", index=False)
    edges.to_csv(raw / "collectri.csv", index=False)


CATALOG = """
panel.raw_expression:
  type: pandas.ParquetDataset
  filepath: data/01_raw/panel/expression.parquet
panel.raw_design:
  type: pandas.CSVDataset
  filepath: data/01_raw/panel/design.tsv
  load_args: {sep: "\\t", keep_default_na: false}
panel.raw_genes:
  type: pandas.CSVDataset
  filepath: data/01_raw/panel/genes.tsv
  load_args: {sep: "\\t"}
panel.raw_edges:
  type: pandas.CSVDataset
  filepath: data/01_raw/panel/collectri.csv
panel.raw_synonyms:
  type: kedro.io.MemoryDataset
  data: {}
"panel.{name}_metrics":
  type: aligned_kedro.datasets.MetricsDataset
  filepath: data/08_reporting/metrics/panel.{name}.json
  prefix: panel
  versioned: true
"""

PARAMETERS = """
panel:
  data_processing:
    edges: {format: collectri}
    universe: {kb_genes: %s}
"""


def run_panel(path: Path, kb_genes: str) -> Path:
    project_copy(path)
    write_data(path / "data" / "01_raw" / "panel")
    add_dataset(path, "panel", CATALOG, PARAMETERS % kb_genes)
    result = kedro_run(path, "--pipeline=aligned", "--namespaces=panel", f"--params=k:{K},{FAST}")
    assert result.exit_code == 0, result.output
    return path


def table(project: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(latest(project / "data" / "03_primary" / f"panel.{name}.parquet"))


def report(project: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(latest(project / "data" / "08_reporting" / f"panel.{name}.csv"))


def metrics(project: Path, name: str) -> dict:
    """A metrics dataset as saved (MLflow adds the ``panel.`` prefix)."""
    folder = project / "data" / "08_reporting" / "metrics" / f"panel.{name}.json"
    return json.loads(latest(folder).read_text())


@pytest.fixture(scope="module")
def latent(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_panel(tmp_path_factory.mktemp("latent"), "latent")


@pytest.fixture(scope="module")
def dropped(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    """``kb_genes: drop`` through the data_processing nodes (no training needed)."""
    raw = tmp_path_factory.mktemp("drop") / "panel"
    write_data(raw)
    params = OmegaConf.to_container(OmegaConf.load(ROOT / "conf" / "base" / PARAMETERS_FILE))
    options = params["data_processing"]
    options["universe"]["kb_genes"] = "drop"
    genes = pd.read_csv(raw / "genes.tsv", sep="\t")
    expression, _ = nodes.expression_values(
        pd.read_parquet(raw / "expression.parquet"), options["expression"]
    )
    edges, _ = nodes.harmonise_edges(
        pd.read_csv(raw / "collectri.csv"),
        genes,
        None,
        {**options["edges"], "format": "collectri"},
        options["genes"],
    )
    design, conditions = nodes.select_conditions(
        pd.read_csv(raw / "design.tsv", sep="\t", keep_default_na=False),
        genes,
        None,
        expression,
        edges,
        options["conditions"],
        options["genes"],
        options["universe"],
    )
    universe, _, report, _ = nodes.build_universe(
        expression, genes, edges, design, K, options["universe"]
    )
    return {"universe": universe, "conditions": conditions, "gene_universe": report}


def test_latent_keeps_every_kb_covered_knockout_and_drops_the_rest_by_reason(latent: Path):
    status = report(latent, "conditions").set_index("condition")
    assert set(status.index[status["status"].eq("kept")]) == {
        f"ko_{g}" for g in MEASURED_KO + LATENT_KO
    }
    assert status.loc["ko_typo", "status"] == UNKNOWN_NAME
    assert status.loc["ko_typo", "detail"].startswith("G00O4 (closest: G0004, ")
    assert status.loc["ko_outside", "status"] == NOT_MEASURED
    assert status.loc["ko_G0004", "detail"] == f"latent input: {gene_id('G0004')}"
    checks = report(latent, "validation").set_index("check")
    assert checks.loc["perturbed.unknown_name", ["status", "value"]].tolist() == ["warn", 1]
    assert "ko_typo: G00O4 (closest: G0004" in checks.loc["perturbed.unknown_name", "detail"]
    assert checks.loc["perturbed.latent_input", "value"] == len(LATENT_KO)
    data = metrics(latent, "dataset")
    assert data["data.conditions_dropped_unknown_name"] == 1
    assert data["data.conditions_dropped_unmeasured_gene"] == 1
    assert data["data.conditions_latent_input"] == len(LATENT_KO)
    assert (data["data.genes_measured"], data["data.genes_latent"]) == (300, 96)


def test_responses_are_deduced_through_unmeasured_regulators(latent: Path):
    universe = table(latent, "universe")
    measured = universe["measured"].to_numpy()
    latent_ids = set(universe.loc[~measured, "gene_id"])
    assert latent_ids == {gene_id(g) for g in LATENT_KO + BETWEEN}  # no sink
    labels, deduced = table(latent, "labels"), table(latent, "kb_predictions")
    assert (labels.loc[:, ~measured] == 0).all().all()
    for knockout in LATENT_KO:
        row = f"ko_{knockout}"
        assert (deduced.loc[row, measured] != 0).sum() > 0
        assert deduced.loc[row, measured].tolist() == labels.loc[row, measured].tolist()
    counts = metrics(latent, "gene_universe")
    assert counts["universe.relations_latent"] > counts["universe.relations_drop"]
    assert counts["universe.kb_genes"] == 2000


def test_the_aligned_run_scores_measured_genes_and_finishes(latent: Path):
    baselines = metrics(latent, "kb_only_baseline")
    assert baselines["baseline.kb_only.data_f1"] == 1.0
    final = metrics(latent, "round_2.refine")
    assert 0 <= final["round_2.refine.balanced_f1"] <= 1
    weights = table(latent, "adaptor_weights").set_index("gene_id")["w"]
    assert (weights[weights.index.isin([gene_id(g) for g in BETWEEN])] == 1.0).all()


def test_drop_behaves_as_before_and_counts_the_knockouts_it_loses(dropped: dict):
    universe = dropped["universe"]
    assert universe["measured"].all() and len(universe) == len(MEASURED)
    status = dropped["conditions"].set_index("condition")["status"]
    assert set(status.index[status.eq("kept")]) == {f"ko_{g}" for g in MEASURED_KO}
    assert (status == KB_GENE_DROPPED).sum() == len(LATENT_KO)
    genes = dropped["gene_universe"].set_index("reason")
    assert genes.loc["KB genes not measured (dropped with their edges)", "genes"] == 1700
    relations = genes[genes["side"].eq("relations")]["relations"].tolist()
    assert relations[0] < relations[1]


def test_a_measured_gene_without_a_label_is_refused_and_latent_genes_get_zeros():
    universe = pd.DataFrame(
        {"gene_id": ["a", "b", "x"], "gene_name": ["a", "b", "x"], "measured": [True, True, False]}
    )
    design = pd.DataFrame(
        {
            "sample_id": ["k1", "k2", "c1", "c2"],
            "condition": ["ko_x", "ko_x", "wt", "wt"],
            "role": ["perturbed", "perturbed", "control", "control"],
            "perturbation": ["x", "x", "", ""],
            "perturbation_type": ["KO", "KO", "", ""],
            "control_group": ["wt"] * 4,
        }
    )
    de = pd.DataFrame(
        {"condition": "ko_x", "gene": ["a", "b"], "log2fc": [2.0, 0.0], "q": [0.01, 0.9]}
    )
    params = {"lfc_threshold": 1.0, "fdr": 0.05}
    y, x = nodes.label_conditions(de, design, universe, params)
    assert y.loc["ko_x"].tolist() == [1, 0, 0] and x.loc["ko_x"].tolist() == [0, 0, -1]
    with pytest.raises(InputError, match="no label for a measured gene.*'b'"):
        nodes.label_conditions(de.iloc[:1], design, universe, params)
