"""RegulonDB / EcoCyc: ``regulator, target, effect`` with effects ``+``, ``-``, ``+-``, ``?``."""

from __future__ import annotations

import pandas as pd

from aligned_kedro.core.data.harmonise._tables import require_columns

COLUMNS = ["regulator", "target", "effect"]


def regulondb_effects(raw: pd.DataFrame, source: str) -> pd.DataFrame:
    """The table's own ``regulator, target, effect`` columns, unchanged."""
    require_columns(raw, COLUMNS, source)
    return raw[COLUMNS]
