"""Gene symbols renamed over time: a KB's current symbol (BMAL1) matched to a measured gene
under its previous one (ARNTL), and the reverse, through an HGNC-style alias table.

The table gives each approved symbol its previous and alias symbols (HGNC's complete set:
``symbol, prev_symbol, alias_symbol``, lists joined by ``|``), or is a long table
``alias, symbol[, kind]``. A gene of the gene table belongs to the record of its name (the
approved symbol itself, or the one symbol that lists the name); every other name of that
record then answers to the gene, unless a gene or synonym already has that name, the name
is another record's approved symbol, or it belongs to several records or several genes.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from aligned_kedro.core.data.harmonise.names import name_key
from aligned_kedro.core.errors import InputError

HGNC_COLUMNS = {"prev_symbol": "previous symbol", "alias_symbol": "alias symbol"}
APPROVED = "approved symbol"
ALIAS_COLUMNS = ["alias", "symbol", "kind"]


@dataclass(frozen=True)
class AliasMatch:
    """A name that answers to a gene only through the alias table."""

    name: str
    gene_id: str
    gene_name: str
    kind: str


def alias_pairs(table: pd.DataFrame, *, source: str = "alias table") -> pd.DataFrame:
    """The alias table as ``alias, symbol, kind`` rows (kind: previous symbol, alias
    symbol, or as the table gives it).

    Parameters
    ----------
    table : pandas.DataFrame
        HGNC's ``symbol`` with ``prev_symbol`` and/or ``alias_symbol`` (``|``-joined
        lists), or ``alias, symbol`` (and optionally ``kind``).
    source : str
        Named in errors.

    Returns
    -------
    pandas.DataFrame
        ``alias, symbol, kind``, stripped, without empty or self-referring rows.
    """
    columns = set(table.columns)
    if {"alias", "symbol"} <= columns:
        kind = table["kind"] if "kind" in columns else HGNC_COLUMNS["alias_symbol"]
        pairs = pd.DataFrame({"alias": table["alias"], "symbol": table["symbol"], "kind": kind})
    elif "symbol" in columns and columns & set(HGNC_COLUMNS):
        frames = [
            pd.DataFrame(
                {
                    "alias": table[column].astype("string").str.split("|"),
                    "symbol": table["symbol"],
                    "kind": kind,
                }
            ).explode("alias")
            for column, kind in HGNC_COLUMNS.items()
            if column in columns
        ]
        pairs = pd.concat(frames, ignore_index=True)
    else:
        raise InputError(
            "an alias table has columns symbol and prev_symbol / alias_symbol (HGNC's "
            f"complete set) or alias and symbol; found {list(table.columns)}",
            source=source,
            column="symbol",
        )
    pairs = pairs.dropna(subset=["alias", "symbol"])
    pairs = pairs.assign(
        alias=pairs["alias"].astype(str).str.strip(), symbol=pairs["symbol"].astype(str).str.strip()
    )
    keep = pairs["alias"].ne("") & pairs["symbol"].ne("")
    keep &= pairs["alias"].map(name_key) != pairs["symbol"].map(name_key)
    return (
        pairs.loc[keep, ALIAS_COLUMNS].drop_duplicates(["alias", "symbol"]).reset_index(drop=True)
    )


def alias_matches(
    genes: pd.DataFrame,
    table: pd.DataFrame,
    known: dict[str, tuple],
    *,
    source: str = "alias table",
) -> dict[str, AliasMatch]:
    """The names that answer to one gene of the gene table only through the alias table.

    Parameters
    ----------
    genes : pandas.DataFrame
        The gene table: ``gene_id, gene_name``.
    table : pandas.DataFrame
        The alias table (`alias_pairs`' input).
    known : dict
        `name_resolver`'s keys: names that already answer to a gene win.
    source : str
        Named in errors.

    Returns
    -------
    dict of str to AliasMatch
        `name_key` of the name -> the match.
    """
    pairs = alias_pairs(table, source=source)
    symbols = table["symbol"].dropna().astype(str).str.strip()
    approved = {name_key(s): s for s in [*symbols[symbols.ne("")], *pairs["symbol"]]}
    records: dict[str, set[str]] = {}
    for alias, symbol in zip(pairs["alias"], pairs["symbol"], strict=True):
        records.setdefault(name_key(alias), set()).add(name_key(symbol))
    names_of: dict[str, list[tuple[str, str]]] = {}
    for alias, symbol, kind in pairs.itertuples(index=False):
        names_of.setdefault(name_key(symbol), []).append((alias, kind))

    def record(name: str) -> str | None:
        key = name_key(name)
        if key in approved:
            return key
        owners = records.get(key, set())
        return next(iter(owners)) if len(owners) == 1 else None

    candidates: dict[str, list[AliasMatch]] = {}
    for gene_id, gene_name in zip(genes["gene_id"], genes["gene_name"], strict=True):
        if not isinstance(gene_name, str) or not gene_name.strip():
            continue
        symbol = record(gene_name)
        if symbol is None:
            continue
        others = [(approved[symbol], APPROVED), *names_of.get(symbol, [])]
        for name, kind in others:
            key = name_key(name)
            if key == name_key(gene_name) or key in known:
                continue
            if (key in approved and key != symbol) or len(records.get(key, ())) > 1:
                continue
            candidates.setdefault(key, []).append(
                AliasMatch(name, str(gene_id), str(gene_name), kind)
            )
    return {
        key: found[0] for key, found in candidates.items() if len({m.gene_id for m in found}) == 1
    }
