"""Name resolution shared by every format: gene IDs (Ensembl versions ignored), gene names,
alias columns of the gene table and synonyms, all case-insensitive."""

from __future__ import annotations

import re
from collections.abc import Sequence

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


def resolve_perturbations(
    design: pd.DataFrame,
    genes: pd.DataFrame,
    synonyms: pd.DataFrame | None = None,
    *,
    aliases: Sequence[str] = (),
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
    source : str
        The table named in errors.

    Returns
    -------
    pandas.DataFrame
        `design` with ``perturbation`` in gene IDs; an unknown name raises naming the
        condition and the name.
    """
    require_columns(design, ["condition", "perturbation"], source)
    resolver = name_resolver(genes, synonyms, aliases)

    def to_ids(value: str, row: object) -> str:
        ids = []
        for name in filter(None, (p.strip() for p in str(value).split("+"))):
            found = resolver.get(name_key(name))
            if found is None:
                raise InputError(
                    "perturbation names an unknown gene",
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
