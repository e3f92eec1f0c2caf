"""CollecTRI (as decoupler serves it): ``source, target, weight``, the sign of ``weight``."""

from __future__ import annotations

import pandas as pd

from aligned_kedro.core.data.harmonise._tables import (
    effect_from_sign,
    effect_table,
    given_confidence,
    require_columns,
)


def collectri_effects(raw: pd.DataFrame, source: str) -> pd.DataFrame:
    """``regulator, target, effect`` with effect the sign of ``weight`` (``?`` for 0), and
    the table's own ``confidence`` column when it has one."""
    require_columns(raw, ["source", "target", "weight"], source)
    effect = effect_from_sign(raw["weight"], source, raw["source"])
    return effect_table(raw["source"], raw["target"], effect, given_confidence(raw, source))
