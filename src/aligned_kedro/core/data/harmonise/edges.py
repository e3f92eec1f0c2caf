"""Signed edges between gene IDs from a ``regulator, target, effect`` table (any format
after `edge_effects`), and the plain ``regulator, target, sign`` file."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from aligned_kedro.core.data.harmonise._tables import REPORT_COLUMNS, Report, require_columns
from aligned_kedro.core.data.harmonise.aliases import AliasMatch, alias_matches
from aligned_kedro.core.data.harmonise.names import name_key, name_resolver, resolve_name
from aligned_kedro.core.errors import InputError

log = logging.getLogger(__name__)

EFFECT_SIGNS = {"+": (1,), "-": (-1,)}
DualPolicy = Literal["both", "drop", "activation", "inhibition"]
UnknownPolicy = Literal["drop", "error", "activation", "inhibition"]
DropPolicy = Literal["drop", "error"]
UnresolvedPolicy = Literal["drop", "error", "keep"]
UNRESOLVED = ("drop", "error", "keep")
EDGE_COLUMNS = ["regulator", "target", "sign", "regulator_name", "effect"]


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


def _first_bad_row(raw: pd.DataFrame, effects: dict[str, tuple[int, ...] | None]) -> int | None:
    """The first row with an empty value, an unknown effect or an effect the policies
    refuse (`_row_signs` raises for it), or None."""
    values = raw[["regulator", "target", "effect"]]
    allowed = [e for e, signs in effects.items() if signs is not None]
    bad = (values.isna().any(axis=1) | ~values["effect"].isin(allowed)).to_numpy()
    return int(bad.argmax()) if bad.any() else None


@dataclass(frozen=True)
class _Names:
    """A column's names, each distinct name resolved once: the row codes into `unique`,
    and per distinct name its gene IDs (None: not a gene; (): a refused composite)."""

    codes: np.ndarray
    unique: np.ndarray
    ids: list[tuple | None]

    @classmethod
    def of(cls, names: pd.Series, resolver: dict[str, tuple], composite: str) -> _Names:
        codes, unique = pd.factorize(names, use_na_sentinel=False)
        unique = np.asarray(unique, dtype=object)
        return cls(codes, unique, [resolve_name(n, resolver, composite) for n in unique])

    def kept_as_genes(self) -> _Names:
        """Names that are not genes become genes of their own (stripped) name."""
        ids = [
            (str(n).strip(),) if r is None else r
            for n, r in zip(self.unique, self.ids, strict=True)
        ]
        return _Names(self.codes, self.unique, ids)

    def per_row(self, values: list) -> np.ndarray:
        return np.asarray(values, dtype=object if not values else None)[self.codes]

    @property
    def missing(self) -> np.ndarray:
        return self.per_row([r is None for r in self.ids]).astype(bool)

    @property
    def count(self) -> np.ndarray:
        return self.per_row([0 if r is None else len(r) for r in self.ids]).astype(np.int64)

    def first(self) -> np.ndarray:
        return np.asarray([r[0] if r else "" for r in self.ids], dtype=object)[self.codes]

    def tuples(self, rows: np.ndarray) -> list[tuple]:
        return [self.ids[c] for c in self.codes[rows]]


def _edges_of_rows(
    rows: np.ndarray,
    regulators: _Names,
    targets: _Names,
    signs: _Names,
    raw: pd.DataFrame,
) -> pd.DataFrame:
    """The edges of the kept `rows`, in row order, within a row by regulator, target and
    sign: rows of one gene, one target and one sign directly, the others exploded."""
    single = (regulators.count[rows] == 1) & (targets.count[rows] == 1) & (signs.count[rows] == 1)
    simple, several = rows[single], rows[~single]
    frames = [
        pd.DataFrame(
            {
                "row": simple,
                "regulator": regulators.first()[simple],
                "target": targets.first()[simple],
                "sign": signs.first()[simple],
            }
        )
    ]
    if len(several):
        multi = pd.DataFrame(
            {
                "row": several,
                "regulator": regulators.tuples(several),
                "target": targets.tuples(several),
                "sign": signs.tuples(several),
            }
        )
        frames.append(multi.explode("regulator").explode("target").explode("sign"))
    edges = pd.concat(frames, ignore_index=True).sort_values("row", kind="stable")
    order = edges["row"].to_numpy(dtype=np.int64)
    return pd.DataFrame(
        {
            "regulator": edges["regulator"].to_numpy(dtype=object),
            "target": edges["target"].to_numpy(dtype=object),
            "sign": edges["sign"].to_numpy(dtype=np.int64),
            "regulator_name": raw["regulator"].to_numpy()[order],
            "effect": raw["effect"].to_numpy()[order],
            **{c: raw[c].to_numpy()[order] for c in ("confidence",) if c in raw.columns},
        }
    )


def _alias_notes(
    names: Sequence[_Names],
    produced: np.ndarray,
    matches: dict[str, AliasMatch],
    notes: Report,
) -> None:
    """A ``matched`` line per name that answers to a gene only through the alias table,
    counting the input rows it turns into edges."""
    for found in names:
        rows = np.bincount(found.codes[produced], minlength=len(found.unique))
        for name, n in zip(found.unique, rows, strict=True):
            if not n:
                continue
            for part in filter(None, (p.strip() for p in str(name).split(";"))):
                match = matches.get(name_key(part))
                if match is not None:
                    notes.add(
                        "matched", f"symbol alias: {part} ({match.kind}) -> {match.gene_name}", n
                    )


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
    symbol_aliases: pd.DataFrame | None = None,
    source: str = "edge table",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Turn ``regulator, target, effect`` rows into signed edges between gene IDs.

    ``effect`` is ``+``, ``-``, ``+-`` (dual, by ``dual``) or ``?`` (by ``unknown``).
    Names resolve through gene IDs, gene names and ``synonyms`` (case-insensitive), then
    through the ``symbol_aliases`` table (`alias_matches`). A composite regulator
    (``flhD;flhC``) gives every subunit the edge (``split``) or is dropped. Names that are
    not genes of the gene table (metabolites, tRNAs) are dropped and counted, raise with
    ``unresolved="error"``, or with ``"keep"`` become genes of their own name: for a KB of
    genes and a gene table of the measured genes only (an h5ad's var), whose unmeasured
    KB genes can then be latent genes of the universe. Other formats go through
    `edge_effects` first. Each distinct name is resolved once.

    Parameters
    ----------
    raw : pandas.DataFrame
        ``regulator, target, effect``, one row per interaction.
    genes, synonyms, aliases
        As for `name_resolver`.
    composite, dual, unknown, unresolved : str
        The policies above (``unresolved``: drop, error or keep).
    symbol_aliases : pandas.DataFrame, optional
        An HGNC-style alias table (`alias_pairs`): previous and alias symbols of the
        approved ones.
    source : str
        The file or dataset named in errors and in the log.

    Returns
    -------
    edges : pandas.DataFrame
        ``regulator, target, sign, regulator_name, effect``, one row per distinct signed
        edge (sign 1 or -1), and ``confidence`` (the highest of its rows) when `raw` has
        one.
    report : pandas.DataFrame
        ``action, reason, rows``: input, merged and output counts, every drop and
        expansion, and every name matched only through ``symbol_aliases``.
    """
    require_columns(raw, ["regulator", "target", "effect"], source)
    resolver = name_resolver(genes, synonyms, aliases)
    matches: dict[str, AliasMatch] = {}
    if symbol_aliases is not None:
        matches = alias_matches(genes, symbol_aliases, resolver)
        resolver = {**resolver, **{key: (m.gene_id,) for key, m in matches.items()}}
    effects = effect_signs(dual, unknown)
    regulators = _Names.of(raw["regulator"], resolver, composite)
    targets = _Names.of(raw["target"], resolver, "split")
    missing_reg = regulators.missing
    missing = missing_reg | targets.missing
    column = np.where(missing_reg, "regulator", "target")
    name = np.where(missing_reg, raw["regulator"].to_numpy(), raw["target"].to_numpy())
    refused = unresolved == "error" and missing.any()
    first_refused = int(missing.argmax()) if refused else len(raw)
    bad_row = _first_bad_row(raw, effects)
    if bad_row is not None and bad_row <= first_refused:
        values = tuple(raw.iloc[bad_row][["regulator", "target", "effect"]])
        _row_signs(bad_row, values, effects, source)
    if refused:
        raise InputError(
            "name is not a gene of the gene table",
            source=source,
            column=str(column[first_refused]),
            row=first_refused,
            gene=str(name[first_refused]),
        )
    codes, kinds = pd.factorize(raw["effect"])
    signs = _Names(codes, np.asarray(kinds, dtype=object), [effects[e] for e in kinds])
    if unresolved == "keep":
        regulators, targets = regulators.kept_as_genes(), targets.kept_as_genes()
    dropped = missing & (unresolved != "keep")
    composite_drop = ~dropped & ~regulators.missing & (regulators.count == 0)
    no_signs = ~dropped & ~composite_drop & (signs.count == 0)
    produced = ~(dropped | composite_drop | no_signs)
    kept = missing & produced
    expanded = produced & ~kept & (regulators.count > 1)
    regulator, effect = raw["regulator"].to_numpy(), raw["effect"].to_numpy()
    lines = [
        *(
            ("dropped", f"{c} not a gene: {g}")
            for c, g in zip(column[dropped], name[dropped], strict=True)
        ),
        *(("dropped", f"composite regulator: {r}") for r in regulator[composite_drop]),
        *(("dropped", f"effect {e} by policy") for e in effect[no_signs]),
        *(
            ("kept", f"{c} not in the gene table, kept as a gene: {g}")
            for c, g in zip(column[kept], name[kept], strict=True)
        ),
        *(("expanded", f"composite regulator split: {r}") for r in regulator[expanded]),
    ]
    notes = Report()
    for (action, reason), rows in Counter(lines).items():
        notes.add(action, reason, rows)
    if matches:
        _alias_notes((regulators, targets), produced, matches, notes)
    edges = _edges_of_rows(np.flatnonzero(produced), regulators, targets, signs, raw)
    duplicates = int(edges.duplicated(["regulator", "target", "sign"]).sum())
    if "confidence" in edges.columns and pd.api.types.is_numeric_dtype(edges["confidence"]):
        best = edges.groupby(["regulator", "target", "sign"], sort=False)["confidence"]
        edges["confidence"] = best.transform("max")  # a duplicate keeps its highest
    edges = edges.drop_duplicates(["regulator", "target", "sign"]).reset_index(drop=True)
    return edges, _edge_report(len(raw), len(edges), duplicates, notes, source)
