"""An unsigned gene graph (e.g. GEARS ``go.csv``) as weighted edges between universe genes,
the message-passing graph of the GNN f_y (section 3.3)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from aligned_kedro.core._checks import check_positive_int
from aligned_kedro.core.data.harmonise._tables import Report, require_columns
from aligned_kedro.core.data.harmonise.edges import DropPolicy
from aligned_kedro.core.data.harmonise.names import name_resolver, resolve_name
from aligned_kedro.core.errors import InputError

log = logging.getLogger(__name__)


def _importance(raw: pd.DataFrame, source: str) -> pd.Series:
    """The ``importance`` column as finite numbers >= 0 (raising naming the row), or 1 for a
    table without one."""
    if "importance" not in raw.columns:
        return pd.Series(1.0, index=raw.index)
    importance = pd.to_numeric(raw["importance"], errors="coerce")
    bad = ~np.isfinite(importance.to_numpy(dtype=float)) | (importance < 0).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"importance must be a finite number >= 0, found {raw['importance'].iloc[row]!r}",
            source=source,
            column="importance",
            row=row,
            gene=str(raw["source"].iloc[row]),
        )
    return importance


def _drop_or_raise(
    lost: np.ndarray,
    genes: pd.Series,
    policy: DropPolicy,
    reason: str,
    report: Report,
    source: str,
) -> None:
    """Count the rows ``lost`` under ``reason``, or raise naming the first one's row."""
    if not lost.any():
        return
    first = int(np.flatnonzero(lost)[0])
    if policy == "error":
        raise InputError(
            f"{genes.name} is {reason}",
            source=source,
            column=str(genes.name),
            row=int(genes.index[first]),
            gene=str(genes.iloc[first]),
        )
    distinct = genes[lost].nunique()
    report.add("dropped", f"{genes.name} {reason} ({distinct} genes)", int(lost.sum()))


def _resolve_side(
    table: pd.DataFrame,
    column: str,
    resolver: dict[str, tuple],
    measured: set[str],
    policies: tuple[DropPolicy, DropPolicy],
    report: Report,
    source: str,
) -> pd.DataFrame:
    """`column` (source or target) as universe gene IDs, one row per ID of a name; names
    that are not genes and genes outside the universe are dropped by `policies`
    (unresolved, unmeasured) or raise."""
    unresolved, unmeasured = policies
    empty = table[column].isna().to_numpy()
    if empty.any():
        row = int(table.index[np.flatnonzero(empty)[0]])
        raise InputError("empty value", source=source, column=column, row=row)
    names = table[column].astype(str)
    ids = {name: resolve_name(name, resolver, "split") for name in pd.unique(names)}
    unknown = names.map(ids).isna().to_numpy()
    _drop_or_raise(unknown, names, unresolved, "not a gene of the gene table", report, source)
    table = table[~unknown].assign(**{column: names[~unknown].map(ids)}).explode(column)
    outside = ~table[column].isin(measured).to_numpy()
    reason = "not measured (outside the gene universe)"
    _drop_or_raise(outside, table[column], unmeasured, reason, report, source)
    return table[~outside]


def _prune(
    table: pd.DataFrame,
    weighted: bool,
    min_importance: float,
    top_k: int | None,
    report: Report,
) -> pd.DataFrame:
    """Self-loops dropped, duplicates merged keeping the highest weight; for a weighted
    graph, weights below `min_importance` dropped and each target's `top_k` kept."""
    report.add("dropped", "self-loop", int((table["source"] == table["target"]).sum()))
    table = table[table["source"] != table["target"]]
    table = table.sort_values("weight", ascending=False, kind="stable")
    deduplicated = table.drop_duplicates(["source", "target"])
    report.add(
        "merged", "duplicate edges (highest importance kept)", len(table) - len(deduplicated)
    )
    table = deduplicated
    if weighted:
        kept = table["weight"] >= min_importance
        reason = f"importance below min_importance {min_importance}"
        report.add("dropped", reason, int((~kept).sum()))
        table = table[kept]
        if top_k is not None:
            kept = table.groupby("target", sort=False).cumcount() < top_k
            reason = f"beyond the top {top_k} in-edges of a target"
            report.add("dropped", reason, int((~kept).sum()))
            table = table[kept]
    table = table.sort_values(["target", "weight", "source"], ascending=[True, False, True])
    return table.reset_index(drop=True)


def harmonise_gene_graph(
    raw: pd.DataFrame,
    genes: pd.DataFrame,
    universe: Sequence[str],
    synonyms: pd.DataFrame | None = None,
    *,
    min_importance: float = 0.0,
    top_k: int | None = 20,
    unresolved: DropPolicy = "drop",
    unmeasured: DropPolicy = "drop",
    aliases: Sequence[str] = (),
    source: str = "gene graph",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An unsigned gene graph (``source, target[, importance]``, e.g. GEARS ``go.csv``)
    as weighted edges between universe gene IDs, for the GNN f_y only (section 3.3).

    Names resolve as in `harmonise_edges` (IDs, names, ``aliases``, synonyms; a synonym
    naming several genes gives each the edge). Names that are not genes of the gene table
    (``unresolved``) and genes outside ``universe`` (``unmeasured``) are dropped and
    counted, or raise. Self-loops are dropped (the GNN adds its own), duplicates merge
    keeping the highest importance, edges with importance < ``min_importance`` are
    dropped and every target keeps its ``top_k`` most important in-edges (GEARS keeps
    20; None keeps all). A table without ``importance`` is unweighted (1) and not cut.

    Parameters
    ----------
    raw : pandas.DataFrame
        ``source, target`` and optionally ``importance`` (finite, >= 0).
    genes, synonyms, aliases
        As for `name_resolver`.
    universe : sequence of str
        The measured gene IDs (n).
    min_importance, top_k, unresolved, unmeasured
        The cuts and policies above.
    source : str
        The file or dataset named in errors and in the log.

    Returns
    -------
    graph : pandas.DataFrame
        ``source, target, weight`` (E rows; messages flow source -> target), sorted by
        target, then weight descending.
    report : pandas.DataFrame
        ``action, reason, rows``: input and output counts, every drop and merge.
    """
    require_columns(raw, ["source", "target"], source)
    weighted = "importance" in raw.columns
    importance = _importance(raw, source)
    check_positive_int(top_k, "top_k", source="parameters", allow_none=True)
    resolver = name_resolver(genes, synonyms, aliases)
    table = pd.DataFrame(
        {"source": raw["source"], "target": raw["target"], "weight": importance.astype(float)}
    ).reset_index(drop=True)
    report = Report()
    report.add("input", "rows in the gene graph", len(table))
    measured = set(universe)
    for column in ("source", "target"):
        table = _resolve_side(
            table, column, resolver, measured, (unresolved, unmeasured), report, source
        )
    table = _prune(table, weighted, min_importance, top_k, report)
    report.add("output", "gene graph edges", len(table))
    log.info(
        "%s: %d rows -> %d edges between %d genes%s; dropped %s",
        source,
        len(raw),
        len(table),
        len(pd.unique(table[["source", "target"]].to_numpy().ravel())),
        "" if weighted else " (no importance column: unweighted, not cut by top_k)",
        {r: n for a, r, n in report.lines if a not in ("input", "output") and n} or "nothing",
    )
    return table[["source", "target", "weight"]], report.frame()
