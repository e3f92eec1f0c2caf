"""Any supported GRN resource as one ``regulator, target, effect`` table."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Literal

import pandas as pd

from aligned_kedro.core.data.harmonise._tables import Report
from aligned_kedro.core.data.harmonise.collectri import collectri_effects
from aligned_kedro.core.data.harmonise.complexes import (
    COMPLEX_FORMATS,
    ComplexPolicy,
    expand_complexes,
)
from aligned_kedro.core.data.harmonise.dorothea import dorothea_effects
from aligned_kedro.core.data.harmonise.go import go_effects
from aligned_kedro.core.data.harmonise.omnipath import omnipath_effects
from aligned_kedro.core.data.harmonise.regulondb import regulondb_effects
from aligned_kedro.core.errors import InputError

log = logging.getLogger(__name__)

EdgeFormat = Literal["regulondb", "collectri", "omnipath", "dorothea", "go"]
EDGE_FORMATS: tuple[str, ...] = ("regulondb", "collectri", "omnipath", "dorothea", "go")


def edge_effects(
    raw: pd.DataFrame,
    *,
    format: EdgeFormat = "regulondb",
    dorothea_levels: Sequence[str] = ("A", "B", "C"),
    omnipath_undirected: Literal["drop", "keep"] = "drop",
    omnipath_consensus: bool = True,
    go_as: Literal["positive"] | None = None,
    go_min_importance: float = 0.0,
    complexes: ComplexPolicy = "members",
    source: str = "edge table",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Normalise a GRN resource to ``regulator, target, effect`` (``+``, ``-``, ``+-``, ``?``).

    - ``regulondb``: ``regulator, target, effect`` (RegulonDB / EcoCyc), unchanged.
    - ``collectri``: ``source, target, weight`` (decoupler), the sign of ``weight``.
    - ``omnipath``: ``source, target, is_stimulation, is_inhibition, is_directed`` (plus
      ``consensus_*``, used when ``omnipath_consensus``; ``source_genesymbol`` and
      ``target_genesymbol`` are used when present). Stimulation and inhibition together
      give ``+-`` (the ``dual`` policy of `harmonise_edges` decides), neither gives ``?``;
      undirected rows are dropped and counted, or kept as directed.
    - ``dorothea``: ``tf, confidence, target, mor``; only ``dorothea_levels`` are kept.
    - ``go``: ``source, target, importance`` (the GEARS GO graph) is an unsigned similarity;
      it enters the signed KB only with ``go_as: positive`` (every edge an activation),
      keeping edges with importance >= ``go_min_importance``.

    In ``collectri`` and ``omnipath`` tables a complex (CollecTRI's ``AP1``, ``NFKB``;
    OmniPath's ``JUN_FOS``) becomes one row per member gene (`complex_table`), or is
    dropped with ``complexes: drop``; the report counts each complex.

    Parameters
    ----------
    raw : pandas.DataFrame
        The resource's rows, in the columns of `format`.
    format : str
        One of `EDGE_FORMATS`.
    dorothea_levels, omnipath_undirected, omnipath_consensus, go_as, go_min_importance
        The options of one format each, as above.
    complexes : {"members", "drop"}
        What a complex of a ``collectri`` or ``omnipath`` table becomes.
    source : str
        The file or dataset named in errors and in the log.

    Returns
    -------
    effects : pandas.DataFrame
        ``regulator, target, effect``, one row per kept input row.
    report : pandas.DataFrame
        ``action, reason, rows``: the rows each rule dropped.
    """
    report = Report()
    readers: dict[str, Callable[[], pd.DataFrame]] = {
        "regulondb": lambda: regulondb_effects(raw, source),
        "collectri": lambda: collectri_effects(raw, source),
        "omnipath": lambda: omnipath_effects(
            raw,
            source,
            report,
            undirected=omnipath_undirected,
            consensus=omnipath_consensus,
        ),
        "dorothea": lambda: dorothea_effects(raw, source, report, levels=dorothea_levels),
        "go": lambda: go_effects(
            raw, source, report, go_as=go_as, min_importance=go_min_importance
        ),
    }
    if format not in readers:
        raise InputError(
            f"unknown edge format {format!r}; expected one of {list(EDGE_FORMATS)}",
            source="parameters",
            column="format",
        )
    table = readers[format]()
    if format in COMPLEX_FORMATS:
        table = expand_complexes(table, report, policy=complexes)
    if report.lines:
        log.info("%s (%s): %s", source, format, {f"{a} {r}": n for a, r, n in report.lines})
    return table.reset_index(drop=True), report.frame()
