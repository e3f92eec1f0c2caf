"""The gene universe: the measured genes, and the KB edges inside it."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pandas as pd

from aligned_kedro.core.data.harmonise.edges import DropPolicy
from aligned_kedro.core.errors import InputError

log = logging.getLogger(__name__)


def _universe_report(
    universe: pd.DataFrame,
    unnamed: int,
    kb_genes: pd.Index,
    outside: pd.Index,
    edges: pd.DataFrame,
    inside: pd.Series,
) -> pd.DataFrame:
    """``side, reason, genes, edges``: what the data and the KB each keep and lose."""
    return pd.DataFrame(
        [
            ("data", "measured genes (the universe)", len(universe), 0),
            ("data", "measured genes absent from the gene table (kept)", unnamed, 0),
            ("data", "measured genes without a KB edge (kept)", int((~universe["in_kb"]).sum()), 0),
            ("kb", "KB genes", len(kb_genes), len(edges)),
            (
                "kb",
                "KB genes not measured (dropped with their edges)",
                len(outside),
                int((~inside).sum()),
            ),
            (
                "kb",
                "KB regulators in the universe",
                int(universe["is_regulator"].sum()),
                int(inside.sum()),
            ),
        ],
        columns=["side", "reason", "genes", "edges"],
    )


def gene_universe(
    expression_genes: Sequence[str],
    genes: pd.DataFrame,
    edges: pd.DataFrame,
    *,
    unmeasured_kb_genes: DropPolicy = "drop",
    source: str = "edge table",
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The gene universe is the measured genes; KB edges outside it are dropped and counted.

    Parameters
    ----------
    expression_genes : sequence of str
        The n measured gene IDs, in the expression table's order (unique).
    genes : pandas.DataFrame
        The gene table, ``gene_id, gene_name``.
    edges : pandas.DataFrame
        Signed edges from `harmonise_edges` (``regulator, target, ...``).
    unmeasured_kb_genes : {"drop", "error"}
        What a KB gene outside the universe does.
    source : str
        The edge table named in errors.

    Returns
    -------
    universe : pandas.DataFrame
        n rows ``gene_id, gene_name, is_regulator, in_kb``, in the expression order.
    edges : pandas.DataFrame
        The edges between measured genes.
    report : pandas.DataFrame
        ``side, reason, genes, edges``: what each side lost and why.
    """
    measured = pd.Index(expression_genes)
    if measured.has_duplicates:
        gene = str(measured[measured.duplicated()][0])
        raise InputError("duplicate gene in the expression table", source="expression", gene=gene)
    names = genes.set_index("gene_id")["gene_name"]
    unknown = measured.difference(names.index)
    kb_genes = pd.Index(pd.unique(pd.concat([edges["regulator"], edges["target"]])))
    outside = kb_genes.difference(measured)
    if len(outside) and unmeasured_kb_genes == "error":
        raise InputError(
            f"{len(outside)} KB genes are not measured", source=source, gene=str(outside[0])
        )
    inside = edges["regulator"].isin(measured) & edges["target"].isin(measured)
    kept = edges[inside].reset_index(drop=True)
    universe = pd.DataFrame(
        {
            "gene_id": measured,
            "gene_name": names.reindex(measured)
            .fillna(pd.Series(measured, index=measured))
            .to_numpy(),
            "is_regulator": measured.isin(kept["regulator"]),
            "in_kb": measured.isin(kept["regulator"]) | measured.isin(kept["target"]),
        }
    )
    report = _universe_report(universe, len(unknown), kb_genes, outside, edges, inside)
    log.info(
        "gene universe: %d measured genes; KB keeps %d of %d edges, drops %d unmeasured genes",
        len(measured),
        len(kept),
        len(edges),
        len(outside),
    )
    return universe, kept, report
