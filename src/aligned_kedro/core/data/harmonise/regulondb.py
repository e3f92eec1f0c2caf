"""RegulonDB / EcoCyc: ``regulator, target, effect`` with effects ``+``, ``-``, ``+-``, ``?``,
and optionally the evidence level of each interaction."""

from __future__ import annotations

import pandas as pd

from aligned_kedro.core.data.harmonise._tables import (
    given_confidence,
    level_confidence,
    require_columns,
)

COLUMNS = ["regulator", "target", "effect"]
EVIDENCE_CONFIDENCE = {
    "confirmed": 1.0,
    "c": 1.0,
    "strong": 2 / 3,
    "s": 2 / 3,
    "weak": 1 / 3,
    "w": 1 / 3,
}


def regulondb_effects(raw: pd.DataFrame, source: str) -> pd.DataFrame:
    """The table's own ``regulator, target, effect`` columns, unchanged, with a confidence
    from a ``confidence`` column (numbers in [0, 1]) or from RegulonDB's ``evidence``
    levels (Confirmed, Strong, Weak, or C, S, W)."""
    require_columns(raw, COLUMNS, source)
    table = raw[COLUMNS]
    confidence = given_confidence(raw, source)
    if confidence is None and "evidence" in raw.columns:
        confidence = level_confidence(
            raw["evidence"], EVIDENCE_CONFIDENCE, source, raw["regulator"]
        )
    return table if confidence is None else table.assign(confidence=confidence)
