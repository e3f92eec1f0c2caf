"""Signed GRN compiled to the matrices R+(0), R-(0) (section 2.2, appendix B)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from aligned_kedro.core.errors import InputError

logger = logging.getLogger(__name__)

EDGE_COLUMNS = ("regulator", "target", "sign")
CONFIDENCE = "confidence"
_SIGN_WORDS = {"+": 1, "-": -1, "+1": 1, "-1": -1, "1": 1}


@dataclass(frozen=True, eq=False)
class KnowledgeBase:
    """Direct regulations of a signed GRN as 0/1 matrices (appendix B.1).

    Rows are regulators, columns targets, both in `genes` order. Usually built by
    `compile_kb` from an edge table.

    Parameters
    ----------
    genes
        The n gene names.
    r_pos
        R+(0), (n, n) with 0/1 entries; the self-activation diagonal of appendix B.2 is
        set here if missing.
    r_neg
        R-(0), (n, n) with 0/1 entries.
    edge_table
        The compiled input edges (regulator, target, sign and any extra columns), so
        that input self-edges survive `edges()`.
    n_duplicates, n_conflicts_dropped
        Counts from `compile_kb`: identical edges collapsed, pairs with both signs
        dropped.
    """

    genes: tuple[str, ...]
    r_pos: sp.csr_matrix
    r_neg: sp.csr_matrix
    edge_table: pd.DataFrame | None = None
    n_duplicates: int = 0
    n_conflicts_dropped: int = 0

    def __post_init__(self) -> None:
        genes = tuple(self.genes)
        n = len(genes)
        matrices = {}
        for name in ("r_pos", "r_neg"):
            m = sp.csr_matrix(getattr(self, name), dtype=np.float64, copy=True)
            if m.shape != (n, n):
                raise InputError(f"{name} has shape {m.shape}, expected ({n}, {n}) for {n} genes")
            m.sum_duplicates()
            m.eliminate_zeros()
            if m.nnz and not np.all(m.data == 1.0):
                raise InputError(f"{name} must hold only 0/1 entries")
            matrices[name] = m
        r_pos = matrices["r_pos"]
        if n and not np.all(r_pos.diagonal() == 1.0):
            r_pos = (r_pos + sp.diags(1.0 - r_pos.diagonal(), format="csr")).tocsr()
            r_pos.eliminate_zeros()
        object.__setattr__(self, "genes", genes)
        object.__setattr__(self, "r_pos", r_pos)
        object.__setattr__(self, "r_neg", matrices["r_neg"])

    @property
    def n_genes(self) -> int:
        return len(self.genes)

    @cached_property
    def index(self) -> dict[str, int]:
        """Gene name to matrix index."""
        return {g: i for i, g in enumerate(self.genes)}

    @cached_property
    def regulators(self) -> np.ndarray:
        """Sorted indices of genes with an off-diagonal edge in R+(0) or any edge in R-(0)."""
        off = self.r_pos - sp.diags(self.r_pos.diagonal(), format="csr")
        off.eliminate_zeros()
        has_out = (np.diff(off.indptr) > 0) | (np.diff(self.r_neg.indptr) > 0)
        return np.flatnonzero(has_out).astype(np.intp)

    def edges(self) -> pd.DataFrame:
        """Signed edges (regulator, target, sign in {+1, -1}) without the added diagonal."""
        if self.edge_table is not None:
            return self.edge_table.loc[:, list(EDGE_COLUMNS)].reset_index(drop=True)
        names = np.asarray(self.genes, dtype=object)
        frames = []
        for matrix, sign in ((self.r_pos, 1), (self.r_neg, -1)):
            coo = matrix.tocoo()
            keep = coo.row != coo.col if sign == 1 else np.ones(coo.nnz, dtype=bool)
            frames.append(
                pd.DataFrame(
                    {
                        "regulator": names[coo.row[keep]],
                        "target": names[coo.col[keep]],
                        "sign": np.full(int(keep.sum()), sign, dtype=np.int64),
                    }
                )
            )
        table = pd.concat(frames, ignore_index=True)
        return table.sort_values(["regulator", "target", "sign"], ignore_index=True)

    def confidence(self) -> pd.DataFrame | None:
        """Edges whose source gave a confidence (regulator, target, sign, confidence in
        [0, 1], 1 the most confident); None when the KB has no confidence column."""
        table = self.edge_table
        if table is None or CONFIDENCE not in table.columns:
            return None
        known = table[table[CONFIDENCE].notna()]
        return known.loc[:, [*EDGE_COLUMNS, CONFIDENCE]].reset_index(drop=True)


def _parse_sign(value: object) -> int | None:
    if isinstance(value, str):
        return _SIGN_WORDS.get(value.strip())
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)) and value in (1, -1):
        return int(value)
    return None


def _parse_signs(column: pd.Series) -> np.ndarray:
    """Signs as int64 +1/-1, with 0 where a value is not a valid sign."""
    values = column.to_numpy()
    if values.dtype.kind in "iuf":
        return np.where(np.isin(values, (1, -1)), values, 0).astype(np.int64)
    if values.dtype.kind == "b":
        return np.zeros(len(values), dtype=np.int64)
    cache: dict[tuple[type, object], int] = {}
    out = np.empty(len(values), dtype=np.int64)
    for i, value in enumerate(values):
        key = (type(value), value)
        if key not in cache:
            cache[key] = _parse_sign(value) or 0
        out[i] = cache[key]
    return out


def _edge_codes(
    edges: pd.DataFrame, genes: tuple[str, ...], source: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Regulator and target indices in `genes` and signs (+1/-1) of each row of `edges`; a
    duplicate gene, a missing column or value, an unknown gene or a bad sign raises."""
    universe = pd.Index(genes)
    if not universe.is_unique:
        gene = universe[universe.duplicated()][0]
        raise InputError("duplicate gene in the gene list", source=source, gene=str(gene))
    for column in EDGE_COLUMNS:
        if column not in edges.columns:
            raise InputError("missing required column", source=source, column=column)
    missing = edges.loc[:, list(EDGE_COLUMNS)].isna().to_numpy()
    if missing.any():
        row_pos, col_pos = np.argwhere(missing)[0]
        raise InputError(
            "missing value", source=source, column=EDGE_COLUMNS[col_pos], row=edges.index[row_pos]
        )
    codes = {}
    for column in ("regulator", "target"):
        codes[column] = universe.get_indexer(edges[column])
        unknown = np.flatnonzero(codes[column] < 0)
        if len(unknown):
            raise InputError(
                "gene not in the gene universe",
                source=source,
                column=column,
                row=edges.index[unknown[0]],
                gene=str(edges[column].iloc[unknown[0]]),
            )
    signs = _parse_signs(edges["sign"])
    invalid = np.flatnonzero(signs == 0)
    if len(invalid):
        raise InputError(
            f"sign must be +1/-1 or '+'/'-', got {edges['sign'].iloc[invalid[0]]!r}",
            source=source,
            column="sign",
            row=edges.index[invalid[0]],
        )
    return codes["regulator"], codes["target"], signs


def checked_confidence(table: pd.DataFrame, source: str) -> pd.Series:
    """A table's ``confidence`` column as float64 in [0, 1] (empty: unknown); another
    value raises naming its row and regulator."""
    raw = table[CONFIDENCE]
    if raw.dtype == object:
        raw = raw.mask(raw.astype(str).str.strip() == "")
    values = pd.to_numeric(raw, errors="coerce")
    bad = (values.isna() & raw.notna()) | (values < 0) | (values > 1)
    if bad.any():
        first = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"confidence must be a number in [0, 1], got {table[CONFIDENCE].iloc[first]!r}",
            source=source,
            column=CONFIDENCE,
            row=table.index[first],
            gene=str(table["regulator"].iloc[first]),
        )
    return values.astype(np.float64)


def _kept_rows(
    edges: pd.DataFrame, pair: np.ndarray, signs: np.ndarray, conflict: str, source: str
) -> tuple[np.ndarray, int, int]:
    """Rows kept after collapsing identical duplicates and applying the `conflict` policy
    to pairs with both signs, with the numbers of duplicates and of dropped pairs."""
    keyed = pd.DataFrame({"pair": pair, "sign": signs})
    duplicated = keyed.duplicated(keep="first").to_numpy()
    n_duplicates = int(duplicated.sum())
    if n_duplicates:
        logger.info("%s: collapsed %d duplicate edges", source, n_duplicates)
    keep = ~duplicated
    pair_count = pd.Series(pair[keep]).value_counts()
    clashing_pairs = pair_count.index[pair_count.to_numpy() > 1].to_numpy()
    if not len(clashing_pairs) or conflict == "both":
        return keep, n_duplicates, 0
    clash = keep & np.isin(pair, clashing_pairs)
    if conflict == "error":
        first = int(np.flatnonzero(clash)[0])
        rows = edges.index[clash & (pair == pair[first])].tolist()
        regulator, target = edges["regulator"].iloc[first], edges["target"].iloc[first]
        raise InputError(
            f"conflicting signs for {regulator!r} -> {target!r} (rows {rows}); "
            "choose conflict='drop' or 'both'",
            source=source,
            column="sign",
            row=rows[0],
            gene=str(regulator),
        )
    logger.warning(
        "%s: dropped %d regulator-target pairs with conflicting signs",
        source,
        len(clashing_pairs),
    )
    return keep & ~clash, n_duplicates, len(clashing_pairs)


def compile_kb(
    edges: pd.DataFrame,
    genes: Sequence[str],
    *,
    conflict: Literal["error", "drop", "both"] = "error",
    source: str = "edge table",
) -> KnowledgeBase:
    """Compile a signed edge table into R+(0) (diagonal set) and R-(0) (appendix B.1).

    Identical duplicate edges are collapsed (their count is logged and kept in
    `n_duplicates`).

    Parameters
    ----------
    edges
        One row per edge with columns regulator, target (names in `genes`) and sign
        (+1/-1 or "+"/"-"); extra columns are kept in `edge_table`. An optional
        ``confidence`` column (a number in [0, 1], empty when unknown) is checked and
        read by refinement (`KnowledgeBase.confidence`).
    genes
        The gene universe, n unique names: the matrices' row and column order.
    conflict
        For a (regulator, target) pair with both signs: "error" raises, "drop" removes
        the pair, "both" keeps it in both matrices.
    source
        Named in errors and log lines (e.g. the file the table came from).

    Returns
    -------
    KnowledgeBase
        R+(0) and R-(0), (n, n) CSR, with the compiled edge table.
    """
    if conflict not in ("error", "drop", "both"):
        raise InputError(f"conflict must be 'error', 'drop' or 'both', got {conflict!r}")
    genes = tuple(genes)
    regulators, targets, signs = _edge_codes(edges, genes, source)
    n = len(genes)
    pair = regulators.astype(np.int64) * max(n, 1) + targets
    keep, n_duplicates, n_conflicts_dropped = _kept_rows(edges, pair, signs, conflict, source)
    table = edges.loc[keep].reset_index(drop=True)
    table["sign"] = signs[keep]
    if CONFIDENCE in edges.columns:
        table[CONFIDENCE] = checked_confidence(edges, source).to_numpy()[keep]
    reg, tgt, sign = regulators[keep], targets[keep], signs[keep]

    def adjacency(mask: np.ndarray) -> sp.csr_matrix:
        return sp.csr_matrix(
            (np.ones(int(mask.sum())), (reg[mask], tgt[mask])), shape=(n, n), dtype=np.float64
        )

    return KnowledgeBase(
        genes=genes,
        r_pos=adjacency(sign == 1),
        r_neg=adjacency(sign == -1),
        edge_table=table,
        n_duplicates=n_duplicates,
        n_conflicts_dropped=n_conflicts_dropped,
    )
