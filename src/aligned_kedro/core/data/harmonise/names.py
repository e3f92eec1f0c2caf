"""Name resolution shared by every format: gene IDs (Ensembl versions ignored), gene names,
alias columns of the gene table and synonyms, all case-insensitive."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import Literal

import pandas as pd

from aligned_kedro.core.data.harmonise._tables import require_columns
from aligned_kedro.core.errors import InputError

_ENSEMBL_VERSION = re.compile(r"^(ens[a-z]*\d+)\.\d+$")


def name_key(name: object) -> str:
    """Case-folded lookup key; Ensembl IDs lose their version (ENSG0001.12 -> ensg0001)."""
    key = str(name).strip().lower()
    match = _ENSEMBL_VERSION.match(key)
    return match.group(1) if match else key


def name_resolver(
    genes: pd.DataFrame,
    synonyms: pd.DataFrame | None = None,
    aliases: Sequence[str] = (),
) -> dict[str, tuple]:
    """Map case-folded identifiers, names, ``aliases`` columns of the gene table (e.g. an
    Ensembl ID next to a symbol) and synonyms to tuples of gene IDs.

    Parameters
    ----------
    genes : pandas.DataFrame
        The gene table: ``gene_id, gene_name`` and the `aliases` columns.
    synonyms : pandas.DataFrame, optional
        ``name, genes``: a name for one or several (``;``-joined) genes of the table.
    aliases : sequence of str
        Further name columns of `genes`.

    Returns
    -------
    dict of str to tuple of str
        `name_key` of every known name -> the gene IDs it stands for. An ID wins over a
        name, a name over an alias, an alias over a synonym.
    """
    require_columns(genes, ["gene_id", "gene_name", *aliases], "gene table")
    resolver: dict[str, tuple] = {}
    for gene_id in genes["gene_id"]:
        resolver[name_key(gene_id)] = (gene_id,)
    for column in ("gene_name", *aliases):
        for gene_id, name in zip(genes["gene_id"], genes[column], strict=True):
            if isinstance(name, str) and name:
                resolver.setdefault(name_key(name), (gene_id,))
    if synonyms is not None:
        require_columns(synonyms, ["name", "genes"], "synonym table")
        for row, (name, members) in enumerate(
            zip(synonyms["name"], synonyms["genes"], strict=True)
        ):
            resolved = [resolver.get(name_key(m)) for m in str(members).split(";")]
            if any(r is None for r in resolved):
                raise InputError(
                    f"synonym {name!r} names a gene absent from the gene table",
                    source="synonym table",
                    column="genes",
                    row=row,
                    gene=members,
                )
            resolver.setdefault(name_key(name), tuple(g for r in resolved for g in r))
    return resolver


def resolve_name(name: str, resolver: dict[str, tuple], composite: str) -> tuple | None:
    """The gene IDs of a ``;``-joined name: None when a part is not a gene, () for a
    composite that `composite="drop"` refuses."""
    parts = [p.strip() for p in str(name).split(";") if p.strip()]
    resolved = [resolver.get(name_key(p)) for p in parts]
    if not parts or any(r is None for r in resolved):
        return None
    members = tuple(dict.fromkeys(g for r in resolved for g in r))
    if len(members) > 1 and composite == "drop":
        return ()
    return members


def known_names(genes: pd.DataFrame, synonyms: pd.DataFrame | None = None) -> list[str]:
    """Every name a gene can be given by: IDs, names and synonyms."""
    names = [*genes["gene_id"].astype(str), *genes["gene_name"].dropna().astype(str)]
    if synonyms is not None:
        names += synonyms["name"].dropna().astype(str).tolist()
    return list(dict.fromkeys(names))


_LOOKALIKE = {frozenset("o0"), frozenset("l1"), frozenset("i1"), frozenset("il")}


def _edits(a: str, b: str) -> float:
    """Edit distance from a to b: insertions, deletions and substitutions cost 1, a
    substitution of look-alike characters (O and 0, l and 1, I and 1) costs 1/2."""
    row = [float(j) for j in range(len(b) + 1)]
    for i, x in enumerate(a, start=1):
        previous, row[0] = row[0], float(i)
        for j, y in enumerate(b, start=1):
            change = 0.0 if x == y else 0.5 if frozenset((x, y)) in _LOOKALIKE else 1.0
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + change)
    return row[-1]


def closest_names(name: str, names: Sequence[str], n: int = 5) -> list[str]:
    """Up to `n` of `names` closest to `name`, ignoring case: difflib's candidates, fewest
    edits first (``G00O4`` is half an edit from ``G0004``, one from ``G0014``)."""
    by_key: dict[str, str] = {}
    for known in names:
        by_key.setdefault(known.lower(), known)
    key = name.lower()
    found = difflib.get_close_matches(key, list(by_key), n=len(by_key), cutoff=0.6)
    ranked = sorted(enumerate(found), key=lambda item: (_edits(key, item[1]), item[0]))
    return [by_key[candidate] for _, candidate in ranked[:n]]


def with_kb_genes(genes: pd.DataFrame, edges: pd.DataFrame) -> pd.DataFrame:
    """The gene table plus a row (``gene_id`` = ``gene_name`` = the name) for every gene of
    the KB's edges it does not list: genes an edge table kept by name (``unresolved:
    keep``), so that a perturbation can name them."""
    listed = set(genes["gene_id"].astype(str))
    extra = [
        g for g in pd.unique(pd.concat([edges["regulator"], edges["target"]])) if g not in listed
    ]
    if not extra:
        return genes
    return pd.concat(
        [genes, pd.DataFrame({"gene_id": extra, "gene_name": extra})], ignore_index=True
    )


def _perturbed_names(value: object) -> list[str]:
    """The gene names of a perturbation (``+``-joined); none for a control."""
    if not isinstance(value, str):
        return []
    return [p.strip() for p in value.split("+") if p.strip()]


def unknown_perturbations(
    design: pd.DataFrame,
    genes: pd.DataFrame,
    synonyms: pd.DataFrame | None = None,
    *,
    aliases: Sequence[str] = (),
    source: str = "design table",
) -> pd.DataFrame:
    """The perturbed gene names that no gene of the gene table answers to.

    Parameters
    ----------
    design : pandas.DataFrame
        ``condition, perturbation`` (names joined by ``+``; empty for a control).
    genes, synonyms, aliases
        As for `name_resolver`.
    source : str
        The table named in errors.

    Returns
    -------
    pandas.DataFrame
        One row per (condition, unknown name), conditions in order of first appearance:
        ``condition, name, closest`` (up to 3 known names that look alike, ``;``-joined,
        empty when none does).
    """
    require_columns(design, ["condition", "perturbation"], source)
    resolver = name_resolver(genes, synonyms, aliases)
    pairs = {
        (str(condition), name): None
        for condition, value in zip(design["condition"], design["perturbation"], strict=True)
        for name in _perturbed_names(value)
        if resolver.get(name_key(name)) is None
    }
    known = known_names(genes, synonyms) if pairs else []
    rows = [(c, name, ";".join(closest_names(name, known, n=3))) for c, name in pairs]
    return pd.DataFrame(rows, columns=["condition", "name", "closest"])


def resolve_perturbations(
    design: pd.DataFrame,
    genes: pd.DataFrame,
    synonyms: pd.DataFrame | None = None,
    *,
    aliases: Sequence[str] = (),
    unknown: Literal["error", "keep"] = "error",
    source: str = "design table",
) -> pd.DataFrame:
    """Rewrite the ``perturbation`` column (names joined by ``+``) as gene IDs.

    Parameters
    ----------
    design : pandas.DataFrame
        ``condition, perturbation`` and any other columns; an empty perturbation is a
        control and stays as it is.
    genes, synonyms, aliases
        As for `name_resolver`.
    unknown : {"error", "keep"}
        A name no gene answers to raises (naming the condition, the name and the closest
        known names), or stays as written (`unknown_perturbations` lists it).
    source : str
        The table named in errors.

    Returns
    -------
    pandas.DataFrame
        `design` with ``perturbation`` in gene IDs.
    """
    require_columns(design, ["condition", "perturbation"], source)
    resolver = name_resolver(genes, synonyms, aliases)

    def to_ids(value: str, row: object) -> str:
        ids: list[str] = []
        for name in _perturbed_names(value):
            found = resolver.get(name_key(name))
            if found is None and unknown == "keep":
                found = (name,)
            elif found is None:
                close = closest_names(name, known_names(genes, synonyms), n=3)
                raise InputError(
                    "perturbation names an unknown gene"
                    + (f"; closest known names: {', '.join(close)}" if close else ""),
                    source=source,
                    column="perturbation",
                    row=row,
                    gene=name,
                )
            ids += found
        return "+".join(ids)

    resolved = [
        to_ids(v, c) if isinstance(v, str) and v else v
        for v, c in zip(design["perturbation"], design["condition"], strict=True)
    ]
    return design.assign(perturbation=resolved)
