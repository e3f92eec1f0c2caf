"""Signed edges between gene IDs from a ``regulator, target, effect`` table (any format
after `edge_effects`), and the plain ``regulator, target, sign`` file."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import pandas as pd

from aligned_kedro.core.data.harmonise._tables import REPORT_COLUMNS, Report, require_columns
from aligned_kedro.core.data.harmonise.names import name_resolver, resolve_name
from aligned_kedro.core.errors import InputError

log = logging.getLogger(__name__)

EFFECT_SIGNS = {"+": (1,), "-": (-1,)}
DualPolicy = Literal["both", "drop", "activation", "inhibition"]
UnknownPolicy = Literal["drop", "error", "activation", "inhibition"]
DropPolicy = Literal["drop", "error"]
UnresolvedPolicy = Literal["drop", "error", "keep"]
EDGE_COLUMNS = ["regulator", "target", "sign", "regulator_name", "effect"]

Edge = tuple[str, str, int, str, str]


def read_edge_table(path: str | Path) -> pd.DataFrame:
    """Read a signed edge table (``regulator, target, sign`` plus optional columns).

    Tab-separated for ``.tsv``/``.tsv.gz``/``.txt``, comma-separated otherwise; signs are
    ``+``/``-`` or ``1``/``-1``. Errors name the file and the column.

    Parameters
    ----------
    path : str or pathlib.Path

    Returns
    -------
    pandas.DataFrame
        One row per edge; ``sign`` as text.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("no such file", source=str(path))
    tab = any(s in (".tsv", ".txt", ".tab") for s in path.suffixes)
    table = pd.read_csv(path, sep="\t" if tab else ",", dtype={"sign": str})
    require_columns(table, ["regulator", "target", "sign"], str(path))
    return table


def effect_signs(dual: DualPolicy, unknown: UnknownPolicy) -> dict[str, tuple[int, ...] | None]:
    """The signs each effect gives under the policies; None: the effect raises."""
    dual_signs = {"both": (1, -1), "drop": (), "activation": (1,), "inhibition": (-1,)}
    unknown_signs = {"drop": (), "activation": (1,), "inhibition": (-1,), "error": None}
    return {**EFFECT_SIGNS, "+-": dual_signs[dual], "?": unknown_signs[unknown]}


def _row_signs(
    row: int,
    values: tuple[object, object, object],
    effects: dict[str, tuple[int, ...] | None],
    source: str,
) -> tuple[int, ...]:
    """The signs of one row's effect; an empty value or an effect the policies refuse
    raises naming the row and the regulator."""
    for column, value in zip(("regulator", "target", "effect"), values, strict=True):
        if pd.isna(value):
            raise InputError("empty value", source=source, column=column, row=row)
    regulator, _, effect = values
    if effect not in effects:
        raise InputError(
            f"unknown effect {effect!r}; expected one of {sorted(effects)}",
            source=source,
            column="effect",
            row=row,
            gene=str(regulator),
        )
    signs = effects[effect]
    if signs is None:
        raise InputError(
            "edge of unknown sign '?' (set unknown: drop to drop these)",
            source=source,
            column="effect",
            row=row,
            gene=str(regulator),
        )
    return signs


def _row_edges(
    row: int,
    values: tuple[str, str, str],
    signs: tuple[int, ...],
    resolver: dict[str, tuple],
    *,
    composite: Literal["split", "drop"],
    unresolved: UnresolvedPolicy,
    source: str,
) -> tuple[list[Edge], tuple[str, str] | None]:
    """One row's signed edges between gene IDs and the report line it adds, if any (a drop,
    a name kept as a gene, or a composite regulator's expansion)."""
    regulator, target, effect = values
    regulators = resolve_name(regulator, resolver, composite)
    targets = resolve_name(target, resolver, "split")
    kept = None
    if unresolved == "keep" and (regulators is None or targets is None):
        gene, column = (regulator, "regulator") if regulators is None else (target, "target")
        regulators = regulators if regulators is not None else (str(regulator).strip(),)
        targets = targets if targets is not None else (str(target).strip(),)
        kept = ("kept", f"{column} not in the gene table, kept as a gene: {gene}")
    if regulators is None or targets is None:
        gene, column = (regulator, "regulator") if regulators is None else (target, "target")
        if unresolved == "error":
            raise InputError(
                "name is not a gene of the gene table",
                source=source,
                column=column,
                row=row,
                gene=str(gene),
            )
        return [], ("dropped", f"{column} not a gene: {gene}")
    if not regulators:
        return [], ("dropped", f"composite regulator: {regulator}")
    if not signs:
        return [], ("dropped", f"effect {effect} by policy")
    edges = [(r, t, s, regulator, effect) for r in regulators for t in targets for s in signs]
    if kept is not None:
        return edges, kept
    expanded = ("expanded", f"composite regulator split: {regulator}")
    return edges, expanded if len(regulators) > 1 else None


def _edge_report(
    rows_in: int, edges: int, duplicates: int, notes: Report, source: str
) -> pd.DataFrame:
    """Input, merged and output counts, then every drop and expansion by reason; logged."""
    by_reason = notes.frame().groupby(["action", "reason"], as_index=False)["rows"].sum()
    summary = pd.DataFrame(
        [
            ("input", "rows in the edge table", rows_in),
            ("merged", "duplicate edges after expansion", duplicates),
            ("output", "signed edges", edges),
        ],
        columns=REPORT_COLUMNS,
    )
    report = pd.concat([summary, by_reason], ignore_index=True)
    drops = report[report["action"].eq("dropped")]
    by_kind = drops.groupby(drops["reason"].str.split(":").str[0])["rows"].sum()
    log.info(
        "%s: %d rows -> %d signed edges; dropped %s; %d duplicates merged",
        source,
        rows_in,
        edges,
        {kind: int(n) for kind, n in by_kind.items()} or "nothing",
        duplicates,
    )
    return report


def harmonise_edges(
    raw: pd.DataFrame,
    genes: pd.DataFrame,
    synonyms: pd.DataFrame | None = None,
    *,
    composite: Literal["split", "drop"] = "split",
    dual: DualPolicy = "both",
    unknown: UnknownPolicy = "drop",
    unresolved: UnresolvedPolicy = "drop",
    aliases: Sequence[str] = (),
    source: str = "edge table",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Turn ``regulator, target, effect`` rows into signed edges between gene IDs.

    ``effect`` is ``+``, ``-``, ``+-`` (dual, by ``dual``) or ``?`` (by ``unknown``).
    Names resolve through gene IDs, gene names and ``synonyms`` (case-insensitive). A
    composite regulator (``flhD;flhC``) gives every subunit the edge (``split``) or is
    dropped. Names that are not genes of the gene table (metabolites, tRNAs) are dropped
    and counted, raise with ``unresolved="error"``, or with ``"keep"`` become genes of
    their own name: for a KB of genes and a gene table of the measured genes only (an
    h5ad's var), whose unmeasured KB genes can then be latent genes of the universe.
    Other formats go through `edge_effects` first.

    Parameters
    ----------
    raw : pandas.DataFrame
        ``regulator, target, effect``, one row per interaction.
    genes, synonyms, aliases
        As for `name_resolver`.
    composite, dual, unknown, unresolved : str
        The policies above (``unresolved``: drop, error or keep).
    source : str
        The file or dataset named in errors and in the log.

    Returns
    -------
    edges : pandas.DataFrame
        ``regulator, target, sign, regulator_name, effect``, one row per distinct signed
        edge (sign 1 or -1).
    report : pandas.DataFrame
        ``action, reason, rows``: input, merged and output counts, every drop and
        expansion.
    """
    require_columns(raw, ["regulator", "target", "effect"], source)
    resolver = name_resolver(genes, synonyms, aliases)
    effects = effect_signs(dual, unknown)
    rows: list[Edge] = []
    notes = Report()
    for row, values in enumerate(zip(raw["regulator"], raw["target"], raw["effect"], strict=True)):
        signs = _row_signs(row, values, effects, source)
        found, note = _row_edges(
            row,
            values,
            signs,
            resolver,
            composite=composite,
            unresolved=unresolved,
            source=source,
        )
        rows += found
        if note is not None:
            notes.add(*note, 1)
    edges = pd.DataFrame(rows, columns=EDGE_COLUMNS)
    duplicates = int(edges.duplicated(["regulator", "target", "sign"]).sum())
    edges = edges.drop_duplicates(["regulator", "target", "sign"]).reset_index(drop=True)
    return edges, _edge_report(len(raw), len(edges), duplicates, notes, source)
