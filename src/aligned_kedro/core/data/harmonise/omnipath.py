"""OmniPath interactions: ``source, target, is_directed`` and the stimulation / inhibition
flags (``consensus_*`` or the curated ``is_*``); gene symbols when the table has them."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from aligned_kedro.core.data.harmonise._tables import (
    Report,
    count_confidence,
    effect_table,
    given_confidence,
    require_columns,
    truthy,
)

HALF_CONFIDENCE = 3.0


def omnipath_effects(
    raw: pd.DataFrame,
    source: str,
    report: Report,
    *,
    undirected: Literal["drop", "keep"],
    consensus: bool,
) -> pd.DataFrame:
    """``regulator, target, effect``: stimulation ``+``, inhibition ``-``, both ``+-``,
    neither ``?``; undirected rows are dropped and counted in `report`, or kept as
    directed. ``source_genesymbol`` / ``target_genesymbol`` name the genes when present.
    A ``confidence`` column, else ``curation_effort``, else ``n_references`` gives each
    edge a confidence (`count_confidence`: half at `HALF_CONFIDENCE` curation events or
    references)."""
    require_columns(raw, ["source", "target", "is_directed"], source)
    prefix = "consensus_" if consensus else "is_"
    columns = [f"{prefix}stimulation", f"{prefix}inhibition"]
    require_columns(raw, columns, source)
    directed = truthy(raw["is_directed"], source)
    if undirected == "drop":
        raw = report.keep(directed, "undirected interaction", raw)
    stimulation = truthy(raw[columns[0]], source).to_numpy()
    inhibition = truthy(raw[columns[1]], source).to_numpy()
    effect = np.select([stimulation & inhibition, stimulation, inhibition], ["+-", "+", "-"], "?")
    names = [
        f"{side}_genesymbol" if f"{side}_genesymbol" in raw.columns else side
        for side in ("source", "target")
    ]
    confidence = given_confidence(raw, source)
    counted = [c for c in ("curation_effort", "n_references") if c in raw.columns]
    if confidence is None and counted:
        confidence = count_confidence(raw[counted[0]], HALF_CONFIDENCE, source, raw[names[0]])
    return effect_table(raw[names[0]], raw[names[1]], effect, confidence)
