"""Thin nodes over aligned_kedro.core.data.validation."""

from __future__ import annotations

from typing import Any

import pandas as pd

from aligned_kedro.core.data import validation
from aligned_kedro.core.data.splits import COMBO_SUBSETS


def validate_inputs(
    universe: pd.DataFrame,
    perturbations: pd.DataFrame,
    edge_report: pd.DataFrame,
    conditions_report: pd.DataFrame,
    design: pd.DataFrame,
    split: dict[str, Any],
    params: dict[str, Any],
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Fail fast on bad input; the split passes through, so training waits for this check."""
    findings = [
        *validation.kb_coverage(
            universe,
            perturbations,
            edge_report,
            min_kb_genes=params["min_kb_genes"],
            perturbed_outside_kb=params["perturbed_outside_kb"],
        ),
        *validation.replicates(
            conditions_report,
            min_replicates=params["min_replicates"],
            too_few=params["too_few_replicates"],
        ),
        *validation.duplicated_conditions(design),
        *validation.split_sizes(split, COMBO_SUBSETS),
    ]
    validation.raise_on_errors(findings)
    return split, validation.report_table(findings)


def validation_report(
    checks: pd.DataFrame, inconsistency: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, float]]:
    """The checks and the knowledge_base pipeline's inconsistency summary in one report."""
    rows = validation.report_table(validation.inconsistency_summary(inconsistency))
    report = pd.concat([checks, rows], ignore_index=True)
    metrics = {
        f"validation.{status}": float(report["status"].eq(status).sum())
        for status in ("ok", "warn", "error")
    }
    return report, metrics
