"""Where a KB disagrees with data: inconsistency Inc (Eq. 2) and the relations of Figure 1."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from aligned_kedro.core._checks import PERTURBATION_HINT, check_gene_mask, check_k, check_ternary
from aligned_kedro.core.errors import InputError
from aligned_kedro.core.knowledge.deduction import Variant, _check_variant, iter_closure_blocks
from aligned_kedro.core.knowledge.kb import KnowledgeBase

REPORT_COLUMNS = (
    "gene",
    "in_kb",
    "n_conditions",
    "n_relations",
    "n_missing",
    "n_conflicting",
    "n_agreeing",
    "n_tied",
    "n_direct_tested",
    "n_direct_responding",
    "n_direct_agreeing",
)


def inconsistency(kb_pred: np.ndarray, y: np.ndarray) -> int:
    """Inc (Eq. 2): the number of entries where δ_KB(x) differs from y, over all samples.

    Parameters
    ----------
    kb_pred
        Deductions δ_KB(x), (m, n).
    y
        Labels, (m, n).

    Returns
    -------
    int
        Count of differing entries.
    """
    kb_pred, y = np.asarray(kb_pred), np.asarray(y)
    if kb_pred.shape != y.shape:
        raise InputError(f"shape mismatch: predictions {kb_pred.shape}, labels {y.shape}")
    return int(np.count_nonzero(kb_pred != y))


@dataclass(frozen=True)
class _Relations:
    """Observed signs of (X, Y) over the genes `names`, against the KB's direct edges.

    `kb_col` is each name's KB index (-1 outside the KB); `direct` holds the signs of the
    direct edges of R(0) without the self-activation, `direct_any` their presence;
    `measured` is False for latent genes, whose direct edges are never tested.
    """

    names: tuple[str, ...]
    x: np.ndarray
    y: np.ndarray
    kb_col: np.ndarray
    direct: sp.csr_matrix
    direct_any: sp.csr_matrix
    measured: np.ndarray

    @classmethod
    def of(
        cls,
        x: np.ndarray,
        y: np.ndarray,
        kb: KnowledgeBase,
        names: tuple[str, ...],
        measured: np.ndarray,
    ) -> _Relations:
        kb_col = np.array([kb.index.get(g, -1) for g in names], dtype=np.intp)
        off = kb.r_pos - sp.diags(kb.r_pos.diagonal())
        signs, present = (off - kb.r_neg).tocsr(), (off + kb.r_neg).tocsr()
        return cls(names, x, y, kb_col, signs, present, measured)

    def closure_rows(
        self, kb: KnowledgeBase, cols: np.ndarray, k: int, variant: Variant, block_size: int | None
    ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(column, R+(k) row, R-(k) row) of each gene in `cols`: zero rows outside the KB."""
        in_kb = self.kb_col >= 0
        known = cols[in_kb[cols]]
        for c in cols[~in_kb[cols]]:
            yield int(c), np.zeros(len(self.names)), np.zeros(len(self.names))
        blocks = iter_closure_blocks(kb, self.kb_col[known], k, variant, block_size=block_size)
        offset = 0
        for _, p, q in blocks:
            for i in range(len(p)):
                yield int(known[offset + i]), p[i], q[i]
            offset += len(p)

    def record(self, c: int, p_row: np.ndarray, q_row: np.ndarray) -> dict[str, object]:
        """Counts of perturbed gene `c`'s relations, given its closure rows (`REPORT_COLUMNS`)."""
        kb_col = self.kb_col
        in_kb = kb_col >= 0
        conds = np.flatnonzero(self.x[:, c])
        data_sign = self.y[conds] * self.x[conds, c][:, None]
        data_sign[:, c] = 0
        data_sign[:, ~self.measured] = 0
        present = np.where(in_kb, (p_row[kb_col] + q_row[kb_col]) > 0, False)
        kb_sign = np.where(in_kb, np.sign(p_row[kb_col] - q_row[kb_col]), 0)
        responding = data_sign != 0
        edge_sign = np.zeros(len(self.names))
        has_edge = np.zeros(len(self.names), dtype=bool)
        if in_kb[c]:
            g = kb_col[c]
            edge_sign[in_kb] = self.direct[g].toarray().ravel()[kb_col[in_kb]]
            has_edge[in_kb] = self.direct_any[g].toarray().ravel()[kb_col[in_kb]] > 0
            has_edge[c] = False
            has_edge &= self.measured
        tested = np.broadcast_to(has_edge, data_sign.shape)
        known = responding & present
        return {
            "gene": self.names[c],
            "in_kb": bool(in_kb[c]),
            "n_conditions": len(conds),
            "n_relations": int(responding.sum()),
            "n_missing": int((responding & ~present).sum()),
            "n_conflicting": int((known & (data_sign == -kb_sign) & (kb_sign != 0)).sum()),
            "n_agreeing": int((known & (data_sign == kb_sign)).sum()),
            "n_tied": int((known & (kb_sign == 0)).sum()),
            "n_direct_tested": int(tested.sum()),
            "n_direct_responding": int((tested & responding).sum()),
            "n_direct_agreeing": int((tested & (data_sign == edge_sign) & responding).sum()),
        }


def _report_inputs(
    X: np.ndarray | sp.spmatrix, Y: np.ndarray | sp.spmatrix, names: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray]:
    dense_x = X.toarray() if sp.issparse(X) else np.asarray(X)
    dense_y = Y.toarray() if sp.issparse(Y) else np.asarray(Y)
    if dense_x.shape != dense_y.shape or dense_x.ndim != 2:
        raise InputError(f"shape mismatch: X {dense_x.shape}, Y {dense_y.shape}")
    if dense_x.shape[1] != len(names):
        raise InputError(f"X has {dense_x.shape[1]} columns but {len(names)} gene names")
    check_ternary(dense_x, "X", hint=PERTURBATION_HINT, genes=names)
    check_ternary(dense_y, "Y", genes=names)
    return dense_x, dense_y


def _share(a: int, b: int) -> float:
    return a / b if b else float("nan")


def _report_summary(per_gene: pd.DataFrame) -> dict[str, float | int]:
    totals = {col: int(per_gene[col].sum()) for col in per_gene.columns[3:]}
    n_rel = totals["n_relations"]
    return {
        "n_perturbed_genes": len(per_gene),
        **totals,
        "share_missing": _share(totals["n_missing"], n_rel),
        "share_conflicting": _share(totals["n_conflicting"], n_rel),
        "share_agreeing": _share(totals["n_agreeing"], n_rel),
        "share_tied": _share(totals["n_tied"], n_rel),
        "share_direct_agreeing": _share(totals["n_direct_agreeing"], totals["n_direct_tested"]),
        "share_direct_agreeing_responding": _share(
            totals["n_direct_agreeing"], totals["n_direct_responding"]
        ),
    }


def inconsistency_report(
    X: np.ndarray | sp.spmatrix,
    Y: np.ndarray | sp.spmatrix,
    kb: KnowledgeBase,
    k: int,
    variant: Variant = "integer",
    genes: Sequence[str] | None = None,
    *,
    block_size: int | None = None,
    measured: np.ndarray | None = None,
) -> tuple[dict[str, float | int], pd.DataFrame]:
    """Data-derived relations against the KB closure R±(k) (Eq. 1), as in Figure 1.

    A relation is (perturbed gene g, responding gene j != g, condition) with Y != 0 and
    sign Y * x_g; a multi-gene condition gives one relation per perturbed gene. It is
    missing when R+(k) and R-(k) are both 0 at (g, j), conflicting when
    sign(R+(k) - R-(k)) is the opposite sign, agreeing when equal, and tied when the
    counts are equal but nonzero. Direct edges g -> j of R(0) are tested separately:
    the share whose observed sign equals the edge sign.

    Parameters
    ----------
    X
        Perturbations in {-1, 0, 1}, (m, n'), dense or scipy sparse.
    Y
        Observed signs in {-1, 0, 1}, (m, n').
    kb
        The KB; genes outside it have no relations in it.
    k, variant
        Closure depth and variant (`closure_rows`).
    genes
        Names of the n' columns of X and Y (default `kb.genes`).
    block_size
        Closure rows propagated together.
    measured
        Boolean, (n',): False for latent genes (no labels); they respond in no relation
        and their direct edges are not tested. All True when omitted.

    Returns
    -------
    summary : dict
        Totals of the per-gene counts, n_perturbed_genes, and the shares of missing,
        conflicting, agreeing and tied relations and of agreeing direct edges.
    per_gene : pandas.DataFrame
        One row per perturbed gene (in column order) with `REPORT_COLUMNS`.
    """
    check_k(k)
    _check_variant(variant)
    names = tuple(kb.genes if genes is None else genes)
    dense_x, dense_y = _report_inputs(X, Y, names)
    mask = check_gene_mask(measured, len(names), source="inconsistency report")
    relations = _Relations.of(dense_x, dense_y, kb, names, mask)
    perturbed = np.flatnonzero((dense_x != 0).any(axis=0))
    records, ranks = [], []
    for c, p_row, q_row in relations.closure_rows(kb, perturbed, k, variant, block_size):
        ranks.append(c)
        records.append(relations.record(c, p_row, q_row))
    per_gene = pd.DataFrame(records, columns=list(REPORT_COLUMNS))
    per_gene = per_gene.iloc[np.argsort(ranks, kind="stable")].reset_index(drop=True)
    return _report_summary(per_gene), per_gene


AGREEMENT_COLUMNS = (
    "gene",
    "n_conditions",
    "n_direct_targets",
    "n_deduced",
    "n_agreeing",
    "share_agreeing",
)


def sign_agreement(
    kb_pred: np.ndarray,
    log2fc: np.ndarray,
    X: np.ndarray,
    kb: KnowledgeBase,
    genes: Sequence[str] | None = None,
) -> tuple[dict[str, float | int], pd.DataFrame]:
    """Threshold-free agreement of data and KB: among the entries δ_KB(x) (Alg. 1 line 6)
    deduces to change, the share whose measured log2 fold change has the deduced sign,
    overall and, per perturbed regulator, over its direct KB targets (R(0), no
    self-loop) in the conditions that perturb it. Perturbed genes and unmeasured entries
    (a NaN fold change) are left out, so a weak perturbation with no significant gene
    still says whether its targets move the KB's way.

    Parameters
    ----------
    kb_pred : numpy.ndarray, shape (m, n)
        δ_KB(x) in {-1, 0, 1}.
    log2fc : numpy.ndarray, shape (m, n)
        Measured log2 fold changes against the controls; NaN where not measured.
    X : numpy.ndarray, shape (m, n)
        Perturbations in {-1, 0, 1}.
    kb : KnowledgeBase
    genes : sequence of str, optional
        Names of the n columns (default ``kb.genes``).

    Returns
    -------
    summary : dict
        ``n_deduced``, ``n_agreeing`` and ``share_agreeing`` (NaN without a deduced entry).
    per_regulator : pandas.DataFrame
        One row per perturbed gene (column order) with `AGREEMENT_COLUMNS`.
    """
    names = tuple(kb.genes if genes is None else genes)
    kb_pred = check_ternary(kb_pred, "kb_pred", genes=names)
    X = check_ternary(X, "X", shape=kb_pred.shape, hint=PERTURBATION_HINT, genes=names)
    log2fc = np.asarray(log2fc, dtype=float)
    if log2fc.shape != kb_pred.shape or kb_pred.shape[1] != len(names):
        raise InputError(
            f"shape mismatch: kb_pred {kb_pred.shape}, log2fc {log2fc.shape}, {len(names)} genes"
        )
    counted = (kb_pred != 0) & (X == 0) & np.isfinite(log2fc)
    agreeing = counted & (np.sign(np.nan_to_num(log2fc)) == kb_pred)
    kb_col = np.array([kb.index.get(g, -1) for g in names], dtype=np.intp)
    both = kb.r_pos + kb.r_neg
    direct = (both - sp.diags(both.diagonal())).tocsr()
    in_kb = kb_col >= 0
    rows = []
    for c in np.flatnonzero((X != 0).any(axis=0)):
        targets = np.zeros(len(names), dtype=bool)
        if in_kb[c]:
            targets[in_kb] = direct[kb_col[c]].toarray().ravel()[kb_col[in_kb]] != 0
        conditions = np.flatnonzero(X[:, c])
        n = int(counted[np.ix_(conditions, targets)].sum())
        hits = int(agreeing[np.ix_(conditions, targets)].sum())
        rows.append((names[c], len(conditions), int(targets.sum()), n, hits, _share(hits, n)))
    n_deduced, n_agreeing = int(counted.sum()), int(agreeing.sum())
    summary = {
        "n_deduced": n_deduced,
        "n_agreeing": n_agreeing,
        "share_agreeing": _share(n_agreeing, n_deduced),
    }
    return summary, pd.DataFrame(rows, columns=list(AGREEMENT_COLUMNS))
