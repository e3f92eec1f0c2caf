"""Thin nodes over aligned_kedro.core for the refinement benchmark."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from aligned_kedro.core import RefineOptions
from aligned_kedro.core.evaluation import plots
from aligned_kedro.core.evaluation.refinement_benchmark import noise_sweep, summarise_sweep
from aligned_kedro.pipelines._common import kb_from_table

log = logging.getLogger(__name__)


def refinement_benchmark(
    kb_table: pd.DataFrame,
    universe: pd.DataFrame,
    params: dict[str, Any],
    refine_params: dict[str, Any],
    kb_params: dict[str, Any],
    k: int,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]:
    """Refine noisy copies of the project's KB towards data deduced from it (section 4.2).

    Returns every case, the mean/sd per penalty and noise level, and metrics named
    `refinement_benchmark.<penalty>.noise_<percent>.<score>` (means over seeds).
    """
    true_kb = kb_from_table(kb_table, universe)
    options = RefineOptions.from_params({**refine_params, **(params.get("refine") or {})})
    table = noise_sweep(
        true_kb,
        noise_levels=params["noise"],
        seeds=params["seeds"],
        penalties=params["penalties"],
        k=k,
        variant=kb_params["variant"],
        inputs=params["inputs"],
        options=options,
    )
    summary = summarise_sweep(table)
    metrics: dict[str, float] = {}
    for row in summary.itertuples(index=False):
        prefix = f"refinement_benchmark.{row.penalty}.noise_{round(100 * row.noise)}"
        for score in (
            "direct_f1",
            "closure_f1",
            "direct_precision",
            "direct_recall",
            "supported_precision",
        ):
            metrics[f"{prefix}.{score}"] = float(getattr(row, f"{score}_mean"))
    log.info("refinement benchmark:\n%s", summary.to_string(index=False))
    return table, summary, metrics


def noise_plot(table: pd.DataFrame) -> Figure:
    """Figure 4a: direct and closure F1 against noise, per penalty (mean ± sd over seeds)."""
    return plots.refinement_noise(table)
