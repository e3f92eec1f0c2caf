"""DoRothEA: ``tf, confidence, target, mor``, the sign of the mode of regulation ``mor``,
keeping the chosen confidence levels (A most confident, E least) as a confidence in
[0, 1] (`DOROTHEA_CONFIDENCE`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from aligned_kedro.core.data.harmonise._tables import (
    Report,
    effect_from_sign,
    effect_table,
    require_columns,
)
from aligned_kedro.core.errors import InputError

DOROTHEA_LEVELS: tuple[str, ...] = ("A", "B", "C", "D", "E")
DOROTHEA_CONFIDENCE = {"A": 1.0, "B": 0.75, "C": 0.5, "D": 0.25, "E": 0.0}


def _check_levels(raw: pd.DataFrame, levels: Sequence[str], source: str) -> pd.Series:
    """The rows' confidence levels, upper case; an unknown level raises."""
    unknown = sorted(set(levels) - set(DOROTHEA_LEVELS))
    if unknown:
        raise InputError(
            f"unknown DoRothEA confidence level(s) {unknown}; expected {list(DOROTHEA_LEVELS)}",
            source="parameters",
            column="dorothea_levels",
        )
    level = raw["confidence"].astype(str).str.strip().str.upper()
    bad = ~level.isin(DOROTHEA_LEVELS)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"unknown confidence level {raw['confidence'].iloc[row]!r}; expected "
            f"{list(DOROTHEA_LEVELS)}",
            source=source,
            column="confidence",
            row=row,
            gene=str(raw["tf"].iloc[row]),
        )
    return level


def dorothea_effects(
    raw: pd.DataFrame, source: str, report: Report, *, levels: Sequence[str]
) -> pd.DataFrame:
    """``regulator, target, effect, confidence`` of the rows whose confidence level is in
    `levels`; the other rows are counted in `report`."""
    require_columns(raw, ["tf", "confidence", "target", "mor"], source)
    level = _check_levels(raw, levels, source)
    kept = level.isin(levels)
    raw = report.keep(kept, "confidence level not kept", raw)
    effect = effect_from_sign(raw["mor"], source, raw["tf"])
    confidence = level[kept.to_numpy()].map(DOROTHEA_CONFIDENCE)
    return effect_table(raw["tf"], raw["target"], effect, confidence)
