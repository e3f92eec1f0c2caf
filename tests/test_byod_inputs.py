"""Inputs of a new dataset: h5ad files in both conventions, bulk counts, parameters and the
namespaced pipeline they build."""

from __future__ import annotations

from pathlib import Path

import anndata
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from kedro.io.core import DatasetError, Version

from aligned_kedro.core.errors import InputError
from aligned_kedro.datasets import AnnDataDataset
from aligned_kedro.hooks import dataset_parameters, deep_merge
from aligned_kedro.pipeline_registry import build_pipelines
from aligned_kedro.pipelines.data_processing import nodes
from aligned_kedro.pipelines.shape import PipelineShape, check_shape
from aligned_kedro.pipelines.validation import nodes as validation_nodes

CELLS = {
    "convention": "gears",
    "column": "condition",
    "control": "ctrl",
    "delimiter": "+",
    "perturbation_type": None,
    "type_column": None,
    "gene_name_column": "gene_name",
    "go_count_column": None,
    "layer": None,
    "scale": "counts",
    "replicate_column": None,
    "pseudo_replicates": 2,
    "min_cells": 4,
    "too_few_cells": "drop",
    "duplicate_conditions": "error",
}


def h5ad(labels: list[str], column: str = "condition", **obs_columns) -> anndata.AnnData:
    rng = np.random.default_rng(1)
    n = len(labels)
    X = sp.random(n, 6, density=0.5, format="csr", random_state=rng, dtype=np.float32) * 20
    var = pd.DataFrame(
        {"gene_name": ["A", "B", "C", "D", "E", "F"], "ensembl_id": [f"ENSG{i}" for i in range(6)]},
        index=[f"g{i}" for i in range(6)],
    )
    obs = pd.DataFrame({column: labels, **obs_columns}, index=[f"c{i}" for i in range(n)])
    return anndata.AnnData(X.astype(np.float32), obs=obs, var=var)


def test_h5ad_round_trip_is_versioned_and_keeps_a_sparse_matrix(tmp_path: Path):
    data = h5ad(["ctrl"] * 4 + ["A+ctrl"] * 4)
    dataset = AnnDataDataset(str(tmp_path / "screen.h5ad"), version=Version(None, None))
    dataset.save(data)
    loaded = dataset.load()
    assert sp.issparse(loaded.X)
    assert (loaded.X != data.X).nnz == 0
    assert loaded.obs.equals(data.obs) and loaded.var.equals(data.var)
    assert len(list((tmp_path / "screen.h5ad").iterdir())) == 1
    with pytest.raises(DatasetError, match="'backed' is not supported"):
        AnnDataDataset(str(tmp_path / "x.h5ad"), load_args={"backed": "r"})


def test_gears_h5ad_becomes_pseudobulk_samples_design_and_gene_table(tmp_path: Path):
    path = tmp_path / "gears.h5ad"
    AnnDataDataset(str(path)).save(h5ad(["ctrl"] * 8 + ["A+ctrl"] * 4 + ["A+B"] * 5 + ["C+ctrl"]))
    cells = AnnDataDataset(str(path)).load()
    expression, design, genes, report = nodes.read_cells(
        cells, {**CELLS, "perturbation_type": "CRISPRa"}, seed=0
    )
    assert expression.shape == (6, 6)
    assert design.groupby("condition").size().to_dict() == {"A": 2, "A+B": 2, "ctrl__control": 2}
    assert set(design.loc[design["role"].eq("perturbed"), "perturbation_type"]) == {"OE"}
    assert report.set_index("condition").loc["C", "status"] == "fewer than min_cells"
    assert list(genes.columns) == ["gene_id", "gene_name", "go_count", "ensembl_id"]


def select(
    design: pd.DataFrame, genes: pd.DataFrame, expression: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`nodes.select_conditions` with every drop an error and no KB."""
    return nodes.select_conditions(
        design,
        genes,
        {},
        expression,
        pd.DataFrame(columns=["regulator", "target"]),
        {"missing_control": "error", "untestable": "error", "unknown_perturbation": "error"},
        {"aliases": []},
        {"kb_genes": "drop"},
    )


def test_scperturb_h5ad_with_a_guide_delimiter_and_a_type_column(tmp_path: Path):
    labels = ["non-targeting"] * 6 + ["A_B"] * 4 + ["C"] * 4
    kinds = ["none"] * 6 + ["CRISPRi"] * 4 + ["CRISPRa"] * 4
    path = tmp_path / "scperturb.h5ad"
    AnnDataDataset(str(path)).save(h5ad(labels, column="perturbation", kind=kinds))
    params = {
        **CELLS,
        "convention": "scperturb",
        "column": "perturbation",
        "control": ["control", "non-targeting"],
        "delimiter": "_",
        "type_column": "kind",
    }
    expression, design, genes, _ = nodes.read_cells(
        AnnDataDataset(str(path)).load(), params, seed=0
    )
    selected, _ = select(design, genes, expression)
    conditions, x = nodes.labels.perturbation_matrix(selected, genes["gene_id"].tolist())
    signs = dict(zip(conditions, x.sum(axis=1), strict=True))
    assert signs == {"A+B": -2, "C": 1}


def test_bulk_counts_become_log2_cpm_and_bad_counts_name_sample_and_gene():
    counts = pd.DataFrame({"s1": [5, 15], "s2": [10, 10]}, index=["A", "B"])
    values, dropped = nodes.expression_values(counts, {"scale": "counts", "pseudocount": 1.0})
    assert values.loc["B", "s1"] == pytest.approx(np.log2(0.75e6 + 1)) and dropped.empty
    assert nodes.expression_values(counts, {"scale": "log2", "pseudocount": 1.0})[0] is counts
    with pytest.raises(InputError, match=r"negative count -1.*column 's2', row 'A'"):
        nodes.expression_values(counts.assign(s2=[-1, 3]), {"scale": "counts", "pseudocount": 1})
    with pytest.raises(InputError, match="unknown expression scale 'tpm'"):
        nodes.expression_values(counts, {"scale": "tpm", "pseudocount": 1})


UNIVERSE = pd.DataFrame(
    {
        "gene_id": ["A", "B", "C"],
        "gene_name": ["A", "B", "C"],
        "is_regulator": [True, True, True],
        "in_kb": [True, True, True],
    }
)


def test_unlabelled_inputs_follow_the_direction_of_the_labelled_data():
    crispra = pd.DataFrame([[1, 0, 0]], index=["A"], columns=["A", "B", "C"])
    x_u = nodes.unlabelled_inputs(UNIVERSE, crispra, {"perturbation_type": None})
    assert x_u.to_numpy().sum() == 2  # B and C, overexpressed like the data
    mixed = pd.DataFrame([[1, 0, 0], [0, -1, 0]], index=["A", "B"], columns=["A", "B", "C"])
    with pytest.raises(InputError, match="both directions"):
        nodes.unlabelled_inputs(UNIVERSE, mixed, {"perturbation_type": None})
    assert nodes.unlabelled_inputs(UNIVERSE, mixed, {"perturbation_type": "KD"}).sum().sum() == -1


def test_split_strategies_by_name():
    x = pd.DataFrame(
        [[-1, 0, 0], [0, -1, 0], [0, 0, -1], [-1, -1, 0], [0, -1, -1]],
        index=["A", "B", "C", "A+B", "B+C"],
        columns=["A", "B", "C"],
    )
    params = {"test_fraction": 0.34, "test": ["A + B"], "combo_seen2_fraction": None}
    split = validation_nodes.split_conditions
    fixed = split(x, UNIVERSE, {**params, "strategy": "fixed"}, seed=0)
    assert fixed["test"] == ["A+B"] and fixed["strategy"] == "fixed"
    combo = split(x, UNIVERSE, {**params, "strategy": "combo"}, seed=0)
    one = split(x, UNIVERSE, {**params, "strategy": "combo_seen1"}, seed=0)
    assert one["test"] == combo["combo_seen1"] and one["train"] == combo["train"]
    assert set(one["held_out"]) == set(combo["test"]) - set(one["test"])
    refused = split(x, UNIVERSE, {**params, "strategy": "gears"}, seed=0)
    assert refused["train"] == refused["test"] == []
    assert refused["refused"].startswith("unknown split strategy 'gears'")
    everything = split(x, UNIVERSE, {**params, "strategy": "none"}, seed=0)
    assert everything["train"] == sorted(x.index) and everything["test"] == []


def test_a_dataset_block_overrides_the_defaults_key_by_key():
    parameters = {
        "datasets": ["norman"],
        "k": 4,
        "data_processing": {"edges": {"format": "regulondb", "dual": "both"}, "split": {"x": 1}},
        "norman": {"k": 2, "data_processing": {"edges": {"format": "omnipath"}}},
    }
    (merged,) = dataset_parameters(parameters).values()
    assert merged["k"] == 2
    assert merged["data_processing"] == {
        "edges": {"format": "omnipath", "dual": "both"},
        "split": {"x": 1},
    }
    assert "norman" not in merged and "datasets" not in merged
    assert deep_merge({"a": {"b": 1}}, {"a": 2}) == {"a": 2}
    with pytest.raises(InputError, match="must be a mapping"):
        dataset_parameters({"datasets": ["x"], "x": 3})


def dataset_pipeline(name: str, params: dict):
    """The namespaced ``aligned`` job of dataset `name`, as the registry builds it."""
    shape = PipelineShape.from_parameters({"datasets": [name], name: params})
    return build_pipelines(shape)[name]


def test_an_anndata_dataset_reads_its_cells_in_its_own_namespace():
    namespaced = dataset_pipeline("norman", {"data_processing": {"input": "anndata"}})
    assert "norman.raw_cells" in namespaced.inputs()
    assert "norman.raw_expression" not in namespaced.inputs()
    assert {"norman.raw_edges", "params:norman.data_processing.edges"} <= namespaced.inputs()
    assert all(n.name.startswith("norman.") for n in namespaced.nodes)
    bulk = dataset_pipeline("ecoli2", {})
    assert {"ecoli2.raw_expression", "ecoli2.raw_design"} <= bulk.inputs()


PER_CELL = {
    **CELLS,
    "perturbation_type": "CRISPRi",
    "labels": "per_cell",
    "per_cell": {"n_cells": 4, "threshold": 1.0, "target_sum": 1e4},
}


def test_per_cell_rows_carry_their_condition_inputs_and_split_by_condition(tmp_path: Path):
    labels = ["ctrl"] * 8 + ["A+ctrl"] * 6 + ["A+B"] * 5 + ["B+ctrl"] * 6 + ["C+ctrl"] * 4
    labels += ["D+ctrl"] * 6 + ["C+D"] * 4 + ["E+ctrl"] * 2
    path = tmp_path / "gears.h5ad"
    AnnDataDataset(str(path)).save(h5ad(labels))
    outputs = nodes.read_cells_per_cell(AnnDataDataset(str(path)).load(), PER_CELL, seed=3)
    _, design, genes, report, cell_labels, rows = outputs
    sampled = report.set_index("condition")
    assert sampled.loc["A", "n_sampled"] == 4 and sampled.loc["C", "n_sampled"] == 4
    assert sampled.loc["E", "status"] == "fewer than min_cells"
    assert sampled.loc["E", "n_sampled"] == 0 and len(rows) == 6 * 4
    assert set(np.unique(cell_labels.to_numpy())) <= {-1, 0, 1}
    selected, _ = select(design, genes, outputs[0])
    universe = genes.assign(is_regulator=True, in_kb=True)
    y, x, kept = nodes.label_cells(cell_labels, rows, selected, universe)
    assert list(y.index) == list(x.index) == kept["row"].tolist()
    assert list(y.columns) == genes["gene_id"].tolist()
    double = x.loc[kept.loc[kept["condition"].eq("A+B"), "row"]]
    assert (double[["g0", "g1"]].to_numpy() == -1).all() and (double.to_numpy() != 0).sum() == 8
    params = {"test_fraction": 0.5, "test": ["A + B"], "combo_seen2_fraction": None}
    condition = kept.set_index("row")["condition"]
    for strategy in ("random", "unseen_perturbation", "combo", "fixed"):
        split = validation_nodes.split_conditions(
            x, universe, {**params, "strategy": strategy}, 0, kept
        )
        train, test = condition.loc[split["train"]], condition.loc[split["test"]]
        assert not set(train) & set(test), strategy
        assert sorted(set(test)) == sorted(split["conditions"]["test"])
        for name in set(test):
            assert set(split["test"]) >= set(kept.loc[kept["condition"].eq(name), "row"])
    stats = nodes.dataset_statistics(y, universe, x.iloc[:1], report, pd.DataFrame(), kept)
    assert stats["data.conditions"] == 6 and stats["data.label_rows"] == 24
    sizes = validation_nodes.split_statistics(split)
    assert sizes["data.test_conditions"] == 1 and sizes["data.test_rows"] == 4


def test_per_cell_labels_build_their_own_nodes_and_the_mode_is_checked():
    settings = {"data_processing": {"input": "anndata", "cells": {"labels": "per_cell"}}}
    per_cell = dataset_pipeline("norman", settings)
    names = {n.name for n in per_cell.nodes}
    assert {"norman.label_cells", "norman.read_cells", "norman.split_conditions"} <= names
    assert not {"norman.label_conditions", "norman.differential_expression"} & names
    assert "norman.label_rows_table" in per_cell.all_outputs()
    assert "norman.labels_table" in per_cell.all_outputs()
    settings["data_processing"]["cells"]["labels"] = "per_gene"
    with pytest.raises(InputError, match="unknown label mode 'per_gene' of dataset 'norman'"):
        dataset_pipeline("norman", settings)
    pseudobulk = PipelineShape(data_input="anndata")
    with pytest.raises(InputError, match="labels is 'per_cell' but the pipeline was built"):
        check_shape({}, {}, {"input": "anndata", "cells": PER_CELL}, shape=pseudobulk)
