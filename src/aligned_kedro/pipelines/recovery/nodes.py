"""Thin nodes over aligned_kedro.core for the interaction-recovery pipeline."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from aligned_kedro.core import RoundSettings
from aligned_kedro.core.errors import InputError
from aligned_kedro.core.evaluation import analysis
from aligned_kedro.pipelines._common import gene_names, kb_from_table

log = logging.getLogger(__name__)


def remove_edges(
    kb_table: pd.DataFrame,
    perturbations: pd.DataFrame,
    labels: pd.DataFrame,
    split: dict[str, Any],
    universe: pd.DataFrame,
    settings: RoundSettings,
    params: dict[str, Any],
    *,
    replicate: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Replicate ``replicate``'s corrupted KB (appendix F.3): a sample of the edges whose
    regulator is knocked out (x = -1) in the ``params["knockouts_from"]`` split removed,
    drawn with seed ``params["seed"] + replicate``. ``params["protocol"]`` ``responding``
    draws among the edges that are the KB's one explanation of a target's response in
    that knockout's labels (`responding_edges`); ``random`` among all of them."""
    rows = split[params["knockouts_from"]]
    x = perturbations.loc[rows]
    knocked_out = x.columns[(x.to_numpy() < 0).any(axis=0)]
    pairs = None
    if params["protocol"] == "responding":
        kb = kb_from_table(kb_table, universe)
        pairs = analysis.responding_edges(
            kb, x.to_numpy(), labels.loc[rows].to_numpy(), settings.deduce
        )
    elif params["protocol"] != "random":
        raise InputError(
            f"protocol must be responding or random, got {params['protocol']!r}",
            source="parameters",
            column="recovery.protocol",
        )
    kept, removed = analysis.sample_removals(
        kb_table,
        knocked_out,
        seed=int(params["seed"]) + replicate,
        count=params["count"],
        fraction=params["fraction"],
        pairs=pairs,
    )
    log.info(
        "recovery replicate %d (%s): removed %d of %d KB edges (regulators knocked out in "
        "%s: %d; candidate interactions: %s)",
        replicate,
        params["protocol"],
        len(removed),
        len(kb_table),
        params["knockouts_from"],
        len(knocked_out),
        "all" if pairs is None else len(pairs),
    )
    return kept.reset_index(drop=True), removed


def recovery_report(
    universe: pd.DataFrame, original: pd.DataFrame, *removed_and_refined: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]:
    """Recovered/total per replicate (Table 8) with the false additions (refined edges in
    neither the ORIGINAL KB nor the removed ones), every removed edge with its fate, and
    the counts as metrics. Inputs after the original KB alternate: removed edges, final
    refined KB."""
    names = gene_names(universe)
    per_replicate, false_added = {}, {}
    for i in range(0, len(removed_and_refined), 2):
        removed, refined = removed_and_refined[i], removed_and_refined[i + 1]
        counted = analysis.count_recovery(removed, refined)
        per_replicate[i // 2] = counted.assign(
            regulator_name=counted["regulator"].map(names),
            target_name=counted["target"].map(names),
        )
        false_added[i // 2] = len(analysis.false_additions(original, removed, refined))
    summary = analysis.recovery_summary(per_replicate, false_added)
    edges = pd.concat([t.assign(replicate=r) for r, t in per_replicate.items()], ignore_index=True)
    metrics = {}
    for _, row in summary.iterrows():
        prefix = f"recovery.replicate_{row['replicate']}"
        if row["replicate"] == "mean":
            prefix = "recovery.mean"
        for name in ("recovered", "total", "recovery_rate", "false_additions"):
            metrics[f"{prefix}.{name}"] = float(row[name])
    log.info("interaction recovery:\n%s", summary.drop(columns="edges").to_string(index=False))
    return summary, edges, metrics
