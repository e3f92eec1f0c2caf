"""Thin nodes over aligned_kedro.core for the evaluation pipeline."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from aligned_kedro.core import metrics


def no_change_baseline(
    labels_table: pd.DataFrame, kb_predictions: pd.DataFrame, split: dict[str, Any], gamma: float
) -> dict[str, float]:
    """Predict "no change" everywhere: the floor every method must clear."""
    test = split["test"]
    y = labels_table.loc[test].to_numpy()
    scores = metrics.consistency_scores(
        y, np.zeros_like(y), kb_predictions.loc[test].to_numpy(), gamma
    )
    scores["kb_usage"] = 0.0
    return {f"baseline.no_change.{name}": value for name, value in scores.items()}


def run_summary(stages: list[str], *stage_metrics: dict[str, float]) -> pd.DataFrame:
    """One row per stage, one column per metric: this run's line of the paper's tables."""
    rows = []
    for stage in stages:
        prefix = f"{stage}."
        values = {
            name.removeprefix(prefix): value
            for found in stage_metrics
            for name, value in found.items()
            if name.startswith(prefix) and not isinstance(value, list)
        }
        rows.append({"stage": stage, **values})
    return pd.DataFrame(rows)
