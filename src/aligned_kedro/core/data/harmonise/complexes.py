"""Protein complexes named in a GRN as their member genes: CollecTRI's ``AP1`` and ``NFKB``
through the member table shipped with the project (``resources/complex_members.tsv``),
OmniPath's complexes by their own notation (``JUN_FOS``, ``COMPLEX:P05412_P01100``)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Literal

import pandas as pd

from aligned_kedro.core.data.harmonise._tables import Report, require_columns
from aligned_kedro.core.errors import InputError

ComplexPolicy = Literal["members", "drop"]
COMPLEX_POLICIES: tuple[str, ...] = ("members", "drop")
COMPLEX_FORMATS: tuple[str, ...] = ("collectri", "omnipath")
OMNIPATH_PREFIX = "complex:"
OMNIPATH_SEPARATOR = "_"
SHIPPED_TABLE = files("aligned_kedro.resources").joinpath("complex_members.tsv")


def complex_table(path: str | Path | None = None) -> pd.DataFrame:
    """The complex member table: ``complex, member``, one row per subunit.

    Parameters
    ----------
    path : str or pathlib.Path, optional
        A table of the same columns (tab-separated, ``#`` comments); the shipped one when
        omitted.

    Returns
    -------
    pandas.DataFrame
        ``complex, member``.
    """
    source = SHIPPED_TABLE if path is None else Path(path)
    with source.open() as handle:
        table = pd.read_csv(handle, sep="\t", comment="#", dtype=str)
    require_columns(table, ["complex", "member"], str(source))
    empty = table[["complex", "member"]].isna().any(axis=1)
    if empty.any():
        raise InputError(
            "empty complex or member", source=str(source), row=int(empty.to_numpy().argmax())
        )
    return table


def _lookup(table: pd.DataFrame) -> dict[str, tuple[str, ...]]:
    members: dict[str, tuple[str, ...]] = {}
    for name, group in table.groupby(table["complex"].str.strip().str.casefold(), sort=False):
        members[name] = tuple(dict.fromkeys(group["member"].str.strip()))
    return members


def complex_members(name: object, lookup: dict[str, tuple[str, ...]]) -> tuple[str, ...] | None:
    """The member genes a name stands for, or None when it names no complex: a complex of
    the table (any case), else an OmniPath complex (``A_B``, ``COMPLEX:A_B``)."""
    if not isinstance(name, str):
        return None
    key = name.strip().casefold()
    key = key.removeprefix(OMNIPATH_PREFIX)
    if key in lookup:
        return lookup[key]
    if OMNIPATH_SEPARATOR not in key:
        return None
    text = name.strip()
    text = text[len(OMNIPATH_PREFIX) :] if text.casefold().startswith(OMNIPATH_PREFIX) else text
    parts = tuple(dict.fromkeys(p.strip() for p in text.split(OMNIPATH_SEPARATOR) if p.strip()))
    return parts if len(parts) > 1 else None


def expand_complexes(
    effects: pd.DataFrame,
    report: Report,
    *,
    policy: ComplexPolicy = "members",
    table: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Rows whose regulator or target is a complex, as one row per member gene (``members``)
    or dropped (``drop``); each complex is counted in `report`.

    Parameters
    ----------
    effects : pandas.DataFrame
        ``regulator, target, effect`` (`edge_effects`' table).
    report : Report
        Gets one line per complex and column: ``expanded`` (``complex regulator: AP1 ->
        FOS;...``) or ``dropped`` (``complex regulator: AP1``), with its rows.
    policy : {"members", "drop"}
    table : pandas.DataFrame, optional
        ``complex, member`` (`complex_table`); the shipped table when omitted.

    Returns
    -------
    pandas.DataFrame
        `effects` with complexes expanded or dropped; the other rows unchanged, in order.
    """
    if policy not in COMPLEX_POLICIES:
        raise InputError(
            f"unknown complex policy {policy!r}; expected one of {list(COMPLEX_POLICIES)}",
            source="parameters",
            column="data_processing.edges.complexes",
        )
    lookup = _lookup(complex_table() if table is None else table)
    for column in ("regulator", "target"):
        names = effects[column]
        found = {
            name: members
            for name in pd.unique(names[names.map(lambda v: isinstance(v, str))])
            if (members := complex_members(name, lookup)) is not None
        }
        if not found:
            continue
        hit = names.isin(list(found))
        for name, rows in names[hit].value_counts(sort=False).items():
            if policy == "drop":
                report.add("dropped", f"complex {column}: {name}", rows)
            else:
                report.add("expanded", f"complex {column}: {name} -> {';'.join(found[name])}", rows)
        if policy == "drop":
            effects = effects[~hit.to_numpy()]
        else:
            expanded = names.map(lambda v, found=found: list(found[v]) if v in found else v)
            effects = effects.assign(**{column: expanded}).explode(column)
    return effects
