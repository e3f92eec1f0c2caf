"""Thin nodes over aligned_kedro.core for the knowledge_base pipeline."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from aligned_kedro.core import (
    KnowledgeBase,
    compile_kb,
    consistency_scores,
    deduce,
    inconsistency_report,
    kb_statistics,
)
from aligned_kedro.core import inconsistency as count_inconsistency

log = logging.getLogger(__name__)


def compile_knowledge_base(
    edges: pd.DataFrame, universe: pd.DataFrame, params: dict[str, Any]
) -> pd.DataFrame:
    """The compiled KB, stored as its signed edge table over the universe."""
    compiled = compile_kb(
        edges,
        universe["gene_id"].tolist(),
        conflict=params["conflicting_signs"],
        source="kb_edges_table",
    )
    return compiled.edge_table


def _load(kb_table: pd.DataFrame, universe: pd.DataFrame) -> KnowledgeBase:
    return compile_kb(kb_table, universe["gene_id"].tolist(), conflict="both")


def knowledge_base_statistics(
    kb_table: pd.DataFrame, universe: pd.DataFrame, k: int, params: dict[str, Any]
) -> dict[str, float]:
    stats = kb_statistics(_load(kb_table, universe), k, params["variant"])
    log.info("knowledge base at k=%d (%s): %s", k, params["variant"], stats)
    return {f"kb.{name}": value for name, value in stats.items()}


def deduce_predictions(
    kb_table: pd.DataFrame,
    universe: pd.DataFrame,
    perturbations: pd.DataFrame,
    unlabelled: pd.DataFrame,
    k: int,
    params: dict[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """δ_KB for the labelled and the unlabelled inputs, from closure rows only."""
    knowledge = _load(kb_table, universe)
    return tuple(
        pd.DataFrame(
            deduce(knowledge, x.to_numpy(), k, params["variant"], params["margin"]),
            index=x.index,
            columns=x.columns,
        )
        for x in (perturbations, unlabelled)
    )


def inconsistency(
    kb_table: pd.DataFrame,
    universe: pd.DataFrame,
    perturbations: pd.DataFrame,
    labels_table: pd.DataFrame,
    kb_predictions: pd.DataFrame,
    k: int,
    params: dict[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]:
    """Figure-1 report (missing, conflicting, agreeing relations) and Inc(D, KB) (Eq. 2)."""
    summary, per_regulator = inconsistency_report(
        perturbations.to_numpy(),
        labels_table.to_numpy(),
        _load(kb_table, universe),
        k,
        params["variant"],
        genes=universe["gene_id"].tolist(),
    )
    summary["kb_changed_share"] = float((kb_predictions.to_numpy() != 0).mean())
    summary["inc"] = count_inconsistency(kb_predictions.to_numpy(), labels_table.to_numpy())
    names = universe.set_index("gene_id")["gene_name"]
    per_regulator.insert(1, "gene_name", per_regulator.iloc[:, 0].map(names))
    log.info("data-knowledge inconsistency at k=%d: %s", k, summary)
    table = pd.DataFrame({"measure": list(summary), "value": list(summary.values())})
    return table, per_regulator, {f"inconsistency.{m}": v for m, v in summary.items()}


def kb_only_baseline(
    kb_predictions: pd.DataFrame, labels_table: pd.DataFrame, split: dict[str, Any], gamma: float
) -> dict[str, float]:
    """δ_KB as the predictor, scored on the test split (section 3.1)."""
    test = split["test"]
    y = labels_table.loc[test].to_numpy()
    kb_pred = kb_predictions.loc[test].to_numpy()
    scores = {**consistency_scores(y, kb_pred, kb_pred, gamma), "kb_usage": 1.0}
    return {f"baseline.kb_only.{name}": value for name, value in scores.items()}
