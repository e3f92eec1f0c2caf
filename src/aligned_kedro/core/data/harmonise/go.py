"""The GEARS GO graph as a KB: ``source, target, importance`` is an unsigned similarity,
so it becomes signed edges only on request, every edge an activation."""

from __future__ import annotations

from typing import Literal

import pandas as pd

from aligned_kedro.core.data.harmonise._tables import Report, effect_table, require_columns
from aligned_kedro.core.errors import InputError


def go_effects(
    raw: pd.DataFrame,
    source: str,
    report: Report,
    *,
    go_as: Literal["positive"] | None,
    min_importance: float,
) -> pd.DataFrame:
    """``regulator, target, +`` for the edges with importance >= `min_importance`,
    self-loops dropped (both counted in `report`); refused unless ``go_as="positive"``."""
    require_columns(raw, ["source", "target", "importance"], source)
    if go_as != "positive":
        raise InputError(
            "the GO graph is an unsigned similarity, not a signed GRN; set "
            "data_processing.edges.go_as: positive to use its edges as activations",
            source=source,
            column="importance",
        )
    importance = pd.to_numeric(raw["importance"], errors="coerce")
    raw = report.keep(importance >= min_importance, "importance below go_min_importance", raw)
    raw = report.keep(raw["source"] != raw["target"], "self-loop", raw)
    return effect_table(raw["source"], raw["target"], "+")
