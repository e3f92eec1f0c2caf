"""Thin nodes over aligned_kedro.core for the data_processing pipeline."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from aligned_kedro.core import design as design_core
from aligned_kedro.core import harmonise, labels, splits
from aligned_kedro.core.errors import InputError

log = logging.getLogger(__name__)


def harmonise_edges(
    raw_edges: pd.DataFrame, genes: pd.DataFrame, synonyms: pd.DataFrame, params: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    return harmonise.harmonise_edges(raw_edges, genes, synonyms, **params, source="raw_edges")


def build_universe(
    expression: pd.DataFrame, genes: pd.DataFrame, edges: pd.DataFrame, params: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return harmonise.gene_universe(expression.index, genes, edges, **params, source="raw_edges")


def select_conditions(
    design: pd.DataFrame, genes: pd.DataFrame, synonyms: pd.DataFrame, params: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    resolved = harmonise.resolve_perturbations(design, genes, synonyms, source="raw_design")
    return design_core.select_conditions(resolved, **params, source="raw_design")


def differential_expression(
    expression: pd.DataFrame, design: pd.DataFrame, params: dict[str, Any]
) -> pd.DataFrame:
    return labels.differential_expression(
        expression,
        design,
        test=params["test"],
        source_expression="raw_expression",
        source_design="raw_design",
    )


def label_conditions(
    de_table: pd.DataFrame, design: pd.DataFrame, universe: pd.DataFrame, params: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Y (ternary labels) and X (perturbation inputs), conditions x universe genes."""
    genes = universe["gene_id"].tolist()
    y = labels.ternary_labels(de_table, lfc_threshold=params["lfc_threshold"], fdr=params["fdr"])
    conditions, x = labels.perturbation_matrix(design, genes, source="raw_design")
    x_table = pd.DataFrame(x, index=pd.Index(conditions, name="condition"), columns=genes)
    y_table = y.reindex(index=x_table.index, columns=genes)
    if y_table.isna().any().any():
        missing = y_table.columns[y_table.isna().any()][0]
        raise InputError("no label for a universe gene", source="raw_expression", gene=str(missing))
    return y_table.astype("int8"), x_table


def split_conditions(
    perturbations: pd.DataFrame, params: dict[str, Any], seed: int
) -> dict[str, Any]:
    """Both splits, seeded; ``strategy`` names the one later stages use. ``params["seed"]``
    fixes the split while the run's seed varies the models (null: the run's seed)."""
    seed = seed if params.get("seed") is None else int(params["seed"])
    genes = {c: list(perturbations.columns[row != 0]) for c, row in perturbations.iterrows()}
    fraction = params["test_fraction"]
    result = {
        "strategy": params["strategy"],
        "seed": seed,
        "test_fraction": fraction,
        "random": splits.random_split(list(genes), test_fraction=fraction, seed=seed),
        "unseen_perturbation": splits.unseen_perturbation_split(
            genes, test_fraction=fraction, seed=seed
        ),
    }
    result.update(result[params["strategy"]])
    return result


def unlabelled_inputs(
    universe: pd.DataFrame, perturbations: pd.DataFrame, params: dict[str, Any]
) -> pd.DataFrame:
    regulators = universe.loc[universe["is_regulator"], "gene_id"].tolist()
    return design_core.unlabelled_inputs(
        universe["gene_id"].tolist(), regulators, perturbations, **params
    )


def dataset_statistics(
    labels_table: pd.DataFrame,
    universe: pd.DataFrame,
    split: dict[str, Any],
    unlabelled: pd.DataFrame,
    conditions_report: pd.DataFrame,
) -> dict[str, float]:
    """Counts logged with the run: genes, conditions, label classes, split sizes."""
    values = labels_table.to_numpy()
    stats = {
        "data.genes": len(universe),
        "data.kb_regulators": int(universe["is_regulator"].sum()),
        "data.conditions": len(labels_table),
        "data.conditions_dropped": int(conditions_report["status"].ne("kept").sum()),
        "data.labels_down": int((values == -1).sum()),
        "data.labels_none": int((values == 0).sum()),
        "data.labels_up": int((values == 1).sum()),
        "data.labels_changed_share": float((values != 0).mean()),
        "data.train_conditions": len(split["train"]),
        "data.test_conditions": len(split["test"]),
        "data.unlabelled_inputs": len(unlabelled),
    }
    log.info("dataset statistics: %s", stats)
    return stats
