"""Perturbations asked about, as users write them, turned into inputs x in {-1, 0, 1}^n
(section 2.1): gene names resolve like the GRN's (IDs, symbols, synonyms, any case)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from aligned_kedro.core.data.design import PERTURBATION_SIGN, perturbation_type
from aligned_kedro.core.data.harmonise import resolve_perturbations
from aligned_kedro.core.data.harmonise.names import closest_names, known_names
from aligned_kedro.core.errors import InputError

REQUEST_COLUMNS = ("perturbation", "perturbation_type")
DEFAULT_SOURCE = "predict request"


def parse_requests(
    perturbations: str | Sequence[str] | pd.DataFrame,
    *,
    default_type: str = "KO",
    source: str = DEFAULT_SOURCE,
) -> pd.DataFrame:
    """The perturbations of a request as a table ``perturbation, perturbation_type``.

    `perturbations` is a string of perturbations separated by ``;`` (``"crp;crp+fnr"``:
    ``+`` joins the genes of a combination), a list of such perturbations, or a table with
    a ``perturbation`` column and an optional ``perturbation_type`` column (KO, KD, OE,
    CRISPRi, CRISPRa, ...; one type, or one per gene joined by ``+``). A missing type is
    `default_type`. An empty request or an empty perturbation raises `InputError`.
    """
    if isinstance(perturbations, pd.DataFrame):
        if "perturbation" not in perturbations.columns:
            raise InputError(
                f"missing column; expected {list(REQUEST_COLUMNS)}, found "
                f"{list(perturbations.columns)}",
                source=source,
                column="perturbation",
            )
        names = perturbations["perturbation"].tolist()
        types = (
            perturbations["perturbation_type"].tolist()
            if "perturbation_type" in perturbations.columns
            else [None] * len(names)
        )
    else:
        names = perturbations.split(";") if isinstance(perturbations, str) else list(perturbations)
        types = [None] * len(names)
    if not names or all(_blank(name) for name in names):
        raise InputError("the request names no perturbation", source=source)
    rows = []
    for row, (name, kind) in enumerate(zip(names, types, strict=True)):
        if _blank(name):
            raise InputError(
                f"perturbation {row + 1} of {len(names)} is empty", source=source, row=row
            )
        genes = [part.strip() for part in str(name).split("+")]
        if "" in genes:
            raise InputError(
                f"perturbation {name!r} has an empty gene name",
                source=source,
                column="perturbation",
                row=row,
            )
        rows.append(("+".join(genes), default_type if _blank(kind) else str(kind).strip()))
    return pd.DataFrame(rows, columns=list(REQUEST_COLUMNS))


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or not str(value).strip()


def _signs(kind: str, n_genes: int, source: str, row: int, name: str) -> list[int]:
    parts = [part.strip() for part in kind.split("+")]
    if len(parts) not in (1, n_genes):
        raise InputError(
            f"perturbation_type {kind!r} must be one type or one per gene of {name!r}",
            source=source,
            column="perturbation_type",
            row=row,
        )
    signs = [PERTURBATION_SIGN[perturbation_type(p, source=source, row=row)] for p in parts]
    return signs * n_genes if len(signs) == 1 else signs


def resolve_requests(
    requests: pd.DataFrame,
    genes: pd.DataFrame,
    universe: Sequence[str],
    synonyms: pd.DataFrame | None = None,
    *,
    aliases: Sequence[str] = (),
    source: str = DEFAULT_SOURCE,
) -> tuple[pd.DataFrame, sp.csr_matrix]:
    """Inputs x for the rows of `parse_requests`, over the genes of `universe`.

    Names resolve through `genes` (``gene_id, gene_name`` and the `aliases` columns) and
    `synonyms` (``name, genes``), case-insensitively; a synonym of a complex perturbs
    every member. Raises `InputError` for an unknown name (with the closest known names),
    a gene outside the model's universe, a gene named twice in one perturbation, a
    perturbation asked twice, or an unknown perturbation type.

    Parameters
    ----------
    requests : DataFrame
        ``perturbation, perturbation_type``, m rows.
    genes, synonyms : DataFrame
        The gene table and the synonym table the GRN was harmonised with.
    universe : sequence of str
        The model's n gene IDs, in its column order.

    Returns
    -------
    table : DataFrame
        The m requests with ``gene_ids`` (the resolved IDs joined by ``+``).
    X : scipy.sparse.csr_matrix, shape (m, n), int8
        -1 for KO/KD, +1 for OE at the perturbed genes.
    """
    design = requests.assign(condition=np.arange(len(requests)))
    try:
        resolved = resolve_perturbations(design, genes, synonyms, aliases=aliases, source=source)
    except InputError as error:
        if error.gene is None or error.column != "perturbation":
            raise
        close = closest_names(error.gene, known_names(genes, synonyms))
        hint = f"; closest known names: {', '.join(close)}" if close else ""
        raise InputError(
            f"unknown gene {error.gene!r}{hint}",
            source=source,
            column="perturbation",
            row=error.row,
            gene=error.gene,
        ) from None
    column = {gene: i for i, gene in enumerate(universe)}
    names = genes.set_index("gene_id")["gene_name"]
    rows, cols, values, seen = [], [], [], {}
    for row, (name, kind, ids) in enumerate(
        zip(
            requests["perturbation"],
            requests["perturbation_type"],
            resolved["perturbation"],
            strict=True,
        )
    ):
        members = ids.split("+")
        repeated = [g for i, g in enumerate(members) if g in members[:i]]
        if repeated:
            raise InputError(
                f"perturbation {name!r} names gene {repeated[0]} "
                f"({names.get(repeated[0], repeated[0])}) twice",
                source=source,
                column="perturbation",
                row=row,
                gene=str(repeated[0]),
            )
        positions = [column.get(g, -1) for g in members]
        if -1 in positions:
            gene = members[positions.index(-1)]
            raise InputError(
                f"gene {gene} ({names.get(gene, gene)}) of perturbation {name!r} is not among "
                f"the model's {len(column)} genes (it was not measured)",
                source=source,
                column="perturbation",
                row=row,
                gene=gene,
            )
        signs = _signs(str(kind), len(members), source, row, name)
        key = tuple(sorted(zip(positions, signs, strict=True)))
        if key in seen:
            raise InputError(
                f"perturbation {name!r} ({kind}) is asked twice: rows {seen[key]} and {row} "
                "perturb the same genes the same way",
                source=source,
                column="perturbation",
                row=row,
            )
        seen[key] = row
        rows += [row] * len(members)
        cols += positions
        values += signs
    X = sp.csr_matrix(
        (np.asarray(values, dtype=np.int8), (rows, cols)), shape=(len(requests), len(column))
    )
    table = requests.loc[:, list(REQUEST_COLUMNS)].reset_index(drop=True)
    return table.assign(gene_ids=resolved["perturbation"].to_numpy()), X
