"""Thin nodes over aligned_kedro.core for the interaction-recovery pipeline."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from aligned_kedro.core.evaluation import analysis
from aligned_kedro.pipelines._common import gene_names

log = logging.getLogger(__name__)


def remove_edges(
    kb_table: pd.DataFrame,
    perturbations: pd.DataFrame,
    split: dict[str, Any],
    params: dict[str, Any],
    *,
    replicate: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Replicate ``replicate``'s corrupted KB: a random sample of the edges whose
    regulator is knocked out (x = -1) in the ``params["knockouts_from"]`` split removed,
    drawn with seed ``params["seed"] + replicate`` (appendix F.3)."""
    x = perturbations.loc[split[params["knockouts_from"]]]
    knocked_out = x.columns[(x.to_numpy() < 0).any(axis=0)]
    kept, removed = analysis.sample_removals(
        kb_table,
        knocked_out,
        seed=int(params["seed"]) + replicate,
        count=params["count"],
        fraction=params["fraction"],
    )
    log.info(
        "recovery replicate %d: removed %d of %d KB edges (regulators knocked out in %s: %d)",
        replicate,
        len(removed),
        len(kb_table),
        params["knockouts_from"],
        len(knocked_out),
    )
    return kept.reset_index(drop=True), removed


def recovery_report(
    universe: pd.DataFrame, *removed_and_refined: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]:
    """Recovered/total per replicate and their mean (Table 8), every removed edge with
    its fate, and the counts as metrics. Inputs alternate: removed edges, final refined KB."""
    names = gene_names(universe)
    per_replicate = {}
    for i in range(0, len(removed_and_refined), 2):
        removed, refined = removed_and_refined[i], removed_and_refined[i + 1]
        counted = analysis.count_recovery(removed, refined)
        per_replicate[i // 2] = counted.assign(
            regulator_name=counted["regulator"].map(names),
            target_name=counted["target"].map(names),
        )
    summary = analysis.recovery_summary(per_replicate)
    edges = pd.concat([t.assign(replicate=r) for r, t in per_replicate.items()], ignore_index=True)
    metrics = {}
    for _, row in summary.iterrows():
        prefix = f"recovery.replicate_{row['replicate']}"
        if row["replicate"] == "mean":
            prefix = "recovery.mean"
        metrics[f"{prefix}.recovered"] = float(row["recovered"])
        metrics[f"{prefix}.total"] = float(row["total"])
        metrics[f"{prefix}.recovery_rate"] = float(row["recovery_rate"])
    log.info("interaction recovery:\n%s", summary.drop(columns="edges").to_string(index=False))
    return summary, edges, metrics
