"""The gene universe: the measured genes and, as latent genes, the unmeasured KB genes that
carry a perturbation to a measured gene; and the KB edges inside it."""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from aligned_kedro.core.errors import InputError
from aligned_kedro.core.knowledge.deduction import iter_closure_blocks
from aligned_kedro.core.knowledge.kb import compile_kb

log = logging.getLogger(__name__)

KbGenes = Literal["latent", "drop", "error"]
LatentScope = Literal["paths", "all"]
KB_GENES = ("latent", "drop", "error")
LATENT_SCOPES = ("paths", "all")
REPORT_COLUMNS = ["side", "reason", "genes", "edges", "relations"]


def _inside(edges: pd.DataFrame, genes: Collection[str]) -> pd.Series:
    return edges["regulator"].isin(genes) & edges["target"].isin(genes)


def reached_genes(
    edges: pd.DataFrame, genes: Sequence[str], targets: Collection[str], k: int
) -> pd.Series:
    """For each regulator of `edges`, how many of `targets` (itself left out) it reaches by a
    path of at most k+1 interactions: the nonzero entries of its rows of R±(k) (Eq. 1,
    Boolean variant) in the columns of `targets`.

    Parameters
    ----------
    edges : pandas.DataFrame
        Signed edges ``regulator, target, sign`` between `genes`.
    genes : sequence of str
        The n genes of the KB.
    targets : collection of str
        The genes counted (e.g. the measured genes).
    k : int
        Closure depth.

    Returns
    -------
    pandas.Series of int
        Indexed by regulator, in the KB's gene order.
    """
    kb = compile_kb(edges, genes, conflict="both", source="gene universe")
    columns = np.flatnonzero(pd.Index(kb.genes).isin(list(targets)))
    regulators = kb.regulators
    counts = np.zeros(len(regulators), dtype=np.int64)
    done = 0
    for rows, pos, neg in iter_closure_blocks(kb, regulators, k, "boolean"):
        reached = (pos[:, columns] + neg[:, columns]) > 0
        reached &= columns[None, :] != rows[:, None]
        counts[done : done + len(rows)] = reached.sum(axis=1)
        done += len(rows)
    return pd.Series(counts, index=pd.Index([kb.genes[r] for r in regulators], name="gene_id"))


def _latent_genes(
    edges: pd.DataFrame,
    measured: pd.Index,
    perturbed: Collection[str],
    scope: LatentScope,
    k: int,
) -> tuple[pd.Index, pd.Series]:
    """The unmeasured KB genes the universe keeps, and what every KB regulator reaches."""
    kb_genes = pd.Index(pd.unique(pd.concat([edges["regulator"], edges["target"]])))
    every = measured.append(kb_genes.difference(measured))
    reach = reached_genes(edges, list(every), measured, k)
    outside = kb_genes.difference(measured)
    if scope == "all":
        return outside.sort_values(), reach
    carrying = reach.index[reach.to_numpy() > 0]
    keep = outside[outside.isin(carrying) | outside.isin(list(perturbed))]
    return keep.sort_values(), reach


def _universe_report(
    universe: pd.DataFrame,
    unnamed: int,
    edges: pd.DataFrame,
    latent: pd.Index,
    dropped: pd.Index,
    counts: dict[str, int],
) -> pd.DataFrame:
    """``side, reason, genes, edges, relations``: what the data and the KB each keep and
    lose, and the KB's edges and relations with unmeasured genes dropped and kept."""
    measured = universe["measured"]
    kept = _inside(edges, set(universe["gene_id"]))
    touching = edges["regulator"].isin(latent) | edges["target"].isin(latent)
    rows = [
        ("data", "measured genes", int(measured.sum()), 0, 0),
        ("data", "measured genes absent from the gene table (kept)", unnamed, 0, 0),
        (
            "data",
            "measured genes without a KB edge (kept)",
            int((measured & ~universe["in_kb"]).sum()),
            0,
            0,
        ),
        ("kb", "KB genes", counts["kb_genes"], len(edges), 0),
        (
            "kb",
            "KB genes not measured, kept as latent genes",
            len(latent),
            int((kept & touching).sum()),
            0,
        ),
        (
            "kb",
            "KB genes not measured (dropped with their edges)",
            len(dropped),
            int((~kept).sum()),
            0,
        ),
        (
            "kb",
            "KB regulators in the universe",
            int(universe["is_regulator"].sum()),
            int(kept.sum()),
            0,
        ),
    ]
    for mode in ("drop", "latent"):
        if f"relations_{mode}" in counts:
            rows.append(
                (
                    "relations",
                    f"with kb_genes: {mode}: KB edges, and (regulator, measured gene) pairs "
                    "joined by a path of at most k+1 interactions",
                    counts[f"genes_{mode}"],
                    counts[f"edges_{mode}"],
                    counts[f"relations_{mode}"],
                )
            )
    return pd.DataFrame(rows, columns=REPORT_COLUMNS)


def gene_universe(
    expression_genes: Sequence[str],
    genes: pd.DataFrame,
    edges: pd.DataFrame,
    *,
    kb_genes: KbGenes = "drop",
    latent_scope: LatentScope = "paths",
    k: int | None = None,
    perturbed: Collection[str] = (),
    source: str = "edge table",
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """The gene universe: the measured genes, and with ``kb_genes="latent"`` the unmeasured
    KB genes as latent genes; the KB edges inside it.

    Latent genes take part in the closure (Eq. 1), deduction, the GNN's graph and
    refinement, and can be perturbed, but have no labels: every score uses the measured
    genes only. ``latent_scope="paths"`` keeps the unmeasured KB genes that reach a
    measured gene by a path of at most k+1 interactions, and the perturbed ones; those are
    all the genes on a path of at most k+1 interactions from a perturbed gene or a KB
    regulator to a measured gene, so δ_KB of the measured genes is the same as with every
    KB gene (``"all"``).

    Parameters
    ----------
    expression_genes : sequence of str
        The measured gene IDs, in the expression table's order (unique).
    genes : pandas.DataFrame
        The gene table, ``gene_id, gene_name``.
    edges : pandas.DataFrame
        Signed edges from `harmonise_edges` (``regulator, target, sign, ...``).
    kb_genes : {"latent", "drop", "error"}
        What an unmeasured KB gene does: join the universe as a latent gene, be dropped
        with its edges, or raise.
    latent_scope : {"paths", "all"}
        Which unmeasured KB genes are latent (above).
    k : int, optional
        Closure depth; without it the relations are not counted (and ``"paths"`` needs it).
    perturbed : collection of str
        The perturbed gene IDs of the data: unmeasured KB genes among them are latent.
    source : str
        The edge table named in errors.

    Returns
    -------
    universe : pandas.DataFrame
        ``gene_id, gene_name, is_regulator, in_kb, measured``: the measured genes in the
        expression order, then the latent genes by ID.
    edges : pandas.DataFrame
        The edges between genes of the universe.
    report : pandas.DataFrame
        ``side, reason, genes, edges, relations``: what each side keeps and loses, and the
        edges and relations that survive with ``drop`` and with ``latent``.
    counts : dict of str to int
        The report's numbers: ``measured_genes``, ``latent_genes``, ``kb_genes_dropped``,
        ``edges``, and per mode ``genes_<mode>``, ``edges_<mode>``, ``relations_<mode>``.
    """
    if kb_genes not in KB_GENES or latent_scope not in LATENT_SCOPES:
        raise InputError(
            f"kb_genes must be one of {list(KB_GENES)} and latent_scope one of "
            f"{list(LATENT_SCOPES)}, got {kb_genes!r} and {latent_scope!r}",
            source="parameters",
            column="data_processing.universe",
        )
    measured = pd.Index(expression_genes)
    if measured.has_duplicates:
        gene = str(measured[measured.duplicated()][0])
        raise InputError("duplicate gene in the expression table", source="expression", gene=gene)
    names = genes.set_index("gene_id")["gene_name"]
    every_kb_gene = pd.Index(pd.unique(pd.concat([edges["regulator"], edges["target"]])))
    outside = every_kb_gene.difference(measured)
    if len(outside) and kb_genes == "error":
        raise InputError(
            f"{len(outside)} KB genes are not measured (data_processing.universe.kb_genes: "
            "latent keeps them as latent genes, drop drops them)",
            source=source,
            gene=str(outside[0]),
        )
    if k is None and kb_genes == "latent" and latent_scope == "paths":
        raise InputError("latent_scope 'paths' needs the closure depth k", source="parameters")
    counts = {"kb_genes": len(every_kb_gene), "measured_genes": len(measured)}
    latent = outside.sort_values()
    if k is not None:
        latent, reach = _latent_genes(edges, measured, perturbed, latent_scope, k)
        inside = _inside(edges, measured)
        counts.update(
            genes_drop=len(measured),
            edges_drop=int(inside.sum()),
            relations_drop=int(reached_genes(edges[inside], measured, measured, k).sum()),
            genes_latent=len(measured) + len(latent),
            edges_latent=int(_inside(edges, measured.append(latent)).sum()),
            relations_latent=int(reach.sum()),
        )
    if kb_genes != "latent":
        latent = pd.Index([], dtype=object)
    ids = measured.append(latent)
    kept = edges[_inside(edges, ids)].reset_index(drop=True)
    universe = pd.DataFrame(
        {
            "gene_id": ids,
            "gene_name": names.reindex(ids).fillna(pd.Series(ids, index=ids)).to_numpy(),
            "is_regulator": ids.isin(kept["regulator"]),
            "in_kb": ids.isin(kept["regulator"]) | ids.isin(kept["target"]),
            "measured": np.arange(len(ids)) < len(measured),
        }
    )
    dropped = outside.difference(latent)
    counts.update(latent_genes=len(latent), kb_genes_dropped=len(dropped), edges=len(kept))
    unnamed = len(measured.difference(names.index))
    report = _universe_report(universe, unnamed, edges, latent, dropped, counts)
    log.info(
        "gene universe: %d measured and %d latent genes (kb_genes: %s); the KB keeps %d of "
        "%d edges and drops %d unmeasured genes",
        len(measured),
        len(latent),
        kb_genes,
        len(kept),
        len(edges),
        len(dropped),
    )
    if "relations_drop" in counts:
        log.info(
            "KB relations (regulator, measured gene) within k+1 = %d interactions: %d with "
            "kb_genes: drop, %d with latent (%s)",
            k + 1,
            counts["relations_drop"],
            counts["relations_latent"],
            latent_scope,
        )
    return universe, kept, report, counts
