"""Thin nodes over aligned_kedro.core for the knowledge_base pipeline."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from aligned_kedro.core import (
    changed_shares,
    compile_kb,
    deduce,
    inconsistency_report,
    kb_statistics,
    share_summary,
)
from aligned_kedro.core import inconsistency as count_inconsistency
from aligned_kedro.pipelines._common import (
    deduction_options,
    gene_ids,
    gene_names,
    kb_from_table,
    measured_mask,
)

log = logging.getLogger(__name__)


def compile_knowledge_base(
    edges: pd.DataFrame, universe: pd.DataFrame, params: dict[str, Any]
) -> pd.DataFrame:
    """The compiled KB, stored as its signed edge table over the universe."""
    compiled = compile_kb(
        edges,
        gene_ids(universe),
        conflict=params["conflicting_signs"],
        source="kb_edges_table",
    )
    return compiled.edge_table


def knowledge_base_statistics(
    kb_table: pd.DataFrame, universe: pd.DataFrame, k: int, params: dict[str, Any]
) -> dict[str, float]:
    stats = kb_statistics(kb_from_table(kb_table, universe), k, params["variant"])
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
    knowledge = kb_from_table(kb_table, universe)
    return tuple(
        pd.DataFrame(
            deduce(knowledge, x.to_numpy(), k, **deduction_options(params)),
            index=x.index,
            columns=x.columns,
        )
        for x in (perturbations, unlabelled)
    )


def inconsistency(
    kb_table: pd.DataFrame,
    universe: pd.DataFrame,
    perturbations: pd.DataFrame,
    labels: pd.DataFrame,
    kb_predictions: pd.DataFrame,
    k: int,
    params: dict[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]:
    """Figure-1 report (missing, conflicting, agreeing relations), Inc(D, KB) (Eq. 2) and the
    distribution of the share of measured genes δ_KB changes per input, over the measured
    genes."""
    measured = measured_mask(universe)
    summary, per_regulator = inconsistency_report(
        perturbations.to_numpy(),
        labels.to_numpy(),
        kb_from_table(kb_table, universe),
        k,
        params["variant"],
        genes=gene_ids(universe),
        measured=measured,
    )
    deduced = kb_predictions.to_numpy()[:, measured]
    summary["kb_changed_share"] = float((deduced != 0).mean())
    shares = changed_shares(kb_predictions.to_numpy(), perturbations.to_numpy(), measured)
    summary.update(share_summary(shares))
    summary["inc"] = count_inconsistency(deduced, labels.to_numpy()[:, measured])
    per_regulator.insert(1, "gene_name", per_regulator.iloc[:, 0].map(gene_names(universe)))
    log.info("data-knowledge inconsistency at k=%d: %s", k, summary)
    table = pd.DataFrame({"measure": list(summary), "value": list(summary.values())})
    return table, per_regulator, {f"inconsistency.{m}": v for m, v in summary.items()}
