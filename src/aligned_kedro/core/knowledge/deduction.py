"""Closure of a signed GRN (Eq. 1), deduction δ_KB and inconsistency Inc (Eq. 2), section 2.2.

R+(k) and R-(k) count signed walks of exactly k+1 steps through R+(0) (which carries
the self-activation diagonal, so shorter paths survive) and R-(0): an even number of
inhibitions gives +, an odd number gives -. The "integer" variant (appendix B.3) keeps
the counts; the "boolean" variant clamps to {0, 1} after every step, which is "some walk
of at most k+1 steps with an even (+) / odd (-) number of inhibitions".

Powers of R(0) commute, so row g of R+-(k) is the row vector e_g propagated k+1 times
through the lifted graph L = [[R+, R-], [R-, R+]] on (gene, parity) pairs. Genes that
regulate nothing are sinks whose row is the identity row, so propagation runs over the
regulator block of L only; the walks that leave it are collected with one final product
through the regulator -> non-regulator block. Nothing n x n is built unless `closure`
is asked for.

Integer counts grow like branching^(k+1). They are accumulated in float64, exact up to
2**53; a larger count raises OverflowError (use the boolean variant or a smaller k).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from aligned_kedro.core.errors import InputError
from aligned_kedro.core.knowledge.kb import KnowledgeBase

Variant = Literal["integer", "boolean"]
EXACT_LIMIT = float(2**53)
_BLOCK_BYTES = 16 * 2**20
_MAX_BLOCK = 4096


@dataclass(frozen=True)
class _Lifted:
    """Regulator block of the lifted graph, transposed for column-vector propagation."""

    regulators: np.ndarray
    others: np.ndarray
    position: np.ndarray
    step_t: sp.csr_matrix
    exit_t: sp.csr_matrix


_LIFTED: weakref.WeakKeyDictionary[KnowledgeBase, _Lifted] = weakref.WeakKeyDictionary()


def _lifted(kb: KnowledgeBase) -> _Lifted:
    cached = _LIFTED.get(kb)
    if cached is not None:
        return cached
    n = kb.n_genes
    reg = kb.regulators
    others = np.setdiff1d(np.arange(n, dtype=np.intp), reg, assume_unique=True)
    position = np.full(n, -1, dtype=np.intp)
    position[reg] = np.arange(len(reg))
    pos_rows, neg_rows = kb.r_pos[reg], kb.r_neg[reg]
    p_rr, n_rr = pos_rows[:, reg], neg_rows[:, reg]
    p_rt, n_rt = pos_rows[:, others], neg_rows[:, others]
    step = sp.bmat([[p_rr, n_rr], [n_rr, p_rr]], format="csr", dtype=np.float64)
    exit_ = sp.bmat([[p_rt, n_rt], [n_rt, p_rt]], format="csr", dtype=np.float64)
    lifted = _Lifted(
        regulators=reg,
        others=others,
        position=position,
        step_t=step.T.tocsr(),
        exit_t=exit_.T.tocsr(),
    )
    _LIFTED[kb] = lifted
    return lifted


def _check_k_variant(k: int, variant: str) -> None:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise InputError(f"k must be a non-negative integer, got {k!r}")
    if variant not in ("integer", "boolean"):
        raise InputError(f"variant must be 'integer' or 'boolean', got {variant!r}")


def _guard(values: np.ndarray, k: int) -> None:
    if values.size and float(values.max()) > EXACT_LIMIT:
        raise OverflowError(
            f"integer path counts of the k={k} closure exceed 2**53 and are no longer exact "
            "in float64; use variant='boolean' or a smaller k"
        )


def _block_size(kb: KnowledgeBase, block_size: int | None) -> int:
    if block_size is not None:
        if block_size < 1:
            raise InputError(f"block_size must be positive, got {block_size}")
        return int(block_size)
    per_row = 8 * max(2 * kb.n_genes - 2 * len(kb.regulators), 2 * len(kb.regulators), 1)
    return int(min(_MAX_BLOCK, max(8, _BLOCK_BYTES // per_row)))


def _propagate(
    lifted: _Lifted, rows: np.ndarray, k: int, variant: Variant
) -> tuple[np.ndarray, np.ndarray]:
    """Regulator rows of (R+(k), R-(k)) by Eq. 1 applied to row vectors.

    The state starts at e_g and takes k+1 steps through the regulator block. A walk
    that enters a non-regulator stays there on its diagonal, so those columns are the
    sum of the k+1 states before each step times the exit block (clamped for Boolean).
    Returns `inner` (2r x B: regulator columns, + then -) and `outer` (2t x B:
    non-regulator columns, + then -), one column per row in `rows`.
    """
    r = len(lifted.regulators)
    boolean = variant == "boolean"
    state = np.zeros((2 * r, len(rows)))
    state[lifted.position[rows], np.arange(len(rows))] = 1.0
    reached = np.zeros_like(state)
    for _ in range(k + 1):
        reached += state
        state = lifted.step_t @ state
        if boolean:
            np.minimum(state, 1.0, out=state)
        else:
            _guard(state, k)
    outer = lifted.exit_t @ reached
    if boolean:
        np.minimum(outer, 1.0, out=outer)
    else:
        _guard(outer, k)
    return state, outer


def _as_rows(kb: KnowledgeBase, rows: Sequence[int] | Sequence[str] | np.ndarray) -> np.ndarray:
    if isinstance(rows, np.ndarray) and rows.dtype.kind in "iu":
        bad = (rows < 0) | (rows >= kb.n_genes)
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise InputError(f"row {rows[pos]} is not a gene index in [0, {kb.n_genes})", row=pos)
        return rows.astype(np.intp, copy=False).ravel()
    items = list(rows) if not isinstance(rows, np.ndarray) else rows.tolist()
    out = np.empty(len(items), dtype=np.intp)
    for i, item in enumerate(items):
        if isinstance(item, str):
            if item not in kb.index:
                raise InputError("gene not in the knowledge base", gene=item)
            out[i] = kb.index[item]
        elif isinstance(item, (int, np.integer)) and 0 <= item < kb.n_genes:
            out[i] = item
        else:
            raise InputError(f"row {item!r} is not a gene index in [0, {kb.n_genes})", row=i)
    return out


def iter_closure_blocks(
    kb: KnowledgeBase,
    rows: Sequence[int] | Sequence[str] | np.ndarray,
    k: int,
    variant: Variant = "integer",
    *,
    block_size: int | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Yield (gene indices, R+(k) rows, R-(k) rows) in blocks of dense B x n arrays (Eq. 1)."""
    _check_k_variant(k, variant)
    idx = _as_rows(kb, rows)
    lifted = _lifted(kb)
    r = len(lifted.regulators)
    t = len(lifted.others)
    size = _block_size(kb, block_size)
    for start in range(0, len(idx), size):
        block = idx[start : start + size]
        p = np.zeros((len(block), kb.n_genes))
        q = np.zeros_like(p)
        is_reg = lifted.position[block] >= 0
        sinks = np.flatnonzero(~is_reg)
        p[sinks, block[sinks]] = 1.0
        where = np.flatnonzero(is_reg)
        if len(where):
            inner, outer = _propagate(lifted, block[where], k, variant)
            sub_p = np.empty((len(where), kb.n_genes))
            sub_q = np.empty_like(sub_p)
            sub_p[:, lifted.regulators] = inner[:r].T
            sub_q[:, lifted.regulators] = inner[r:].T
            sub_p[:, lifted.others] = outer[:t].T
            sub_q[:, lifted.others] = outer[t:].T
            p[where], q[where] = sub_p, sub_q
        yield block, p, q


def closure_rows(
    kb: KnowledgeBase,
    rows: Sequence[int] | Sequence[str] | np.ndarray,
    k: int,
    variant: Variant = "integer",
    *,
    block_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """R+(k) and R-(k) (Eq. 1) restricted to `rows` (indices or gene names), |rows| x n.

    Values are float64 holding exact path counts (integer) or 0/1 (boolean).

    Computed by sparse propagation in blocks of `block_size` rows (default: about
    16 MB per working array, so memory stays bounded). Integer counts are exact; counts
    above 2**53 raise OverflowError.
    """
    blocks = list(iter_closure_blocks(kb, rows, k, variant, block_size=block_size))
    if not blocks:
        return np.zeros((0, kb.n_genes)), np.zeros((0, kb.n_genes))
    return np.vstack([b[1] for b in blocks]), np.vstack([b[2] for b in blocks])


def closure(
    kb: KnowledgeBase,
    k: int,
    variant: Variant = "integer",
    *,
    dense_threshold: float = 0.1,
    block_size: int | None = None,
) -> tuple[sp.csr_matrix, sp.csr_matrix] | tuple[np.ndarray, np.ndarray]:
    """Full closure (R+(k), R-(k)) of Eq. 1, only for when the whole matrix is needed.

    Regulator rows come from `closure_rows`; every other row is the identity row of
    R+(k) and zero in R-(k). Both matrices are returned as scipy CSR while the larger
    has at most `dense_threshold * n * n` nonzeros, and as dense float64 arrays
    otherwise. Prefer `deduce`, which never builds the n x n closure.
    """
    _check_k_variant(k, variant)
    n = kb.n_genes
    limit = dense_threshold * n * n
    lifted = _lifted(kb)
    sparse_blocks: list[tuple[np.ndarray, sp.csr_matrix, sp.csr_matrix]] = []
    dense: tuple[np.ndarray, np.ndarray] | None = None
    nnz_p = nnz_q = len(lifted.others)
    for block, p, q in iter_closure_blocks(
        kb, lifted.regulators, k, variant, block_size=block_size
    ):
        if dense is None:
            nnz_p += int(np.count_nonzero(p))
            nnz_q += int(np.count_nonzero(q))
            if max(nnz_p, nnz_q) <= limit:
                sparse_blocks.append((block, sp.csr_matrix(p), sp.csr_matrix(q)))
                continue
            dense = (np.zeros((n, n)), np.zeros((n, n)))
            dense[0][lifted.others, lifted.others] = 1.0
            for done, dp, dq in sparse_blocks:
                dense[0][done] = dp.toarray()
                dense[1][done] = dq.toarray()
            sparse_blocks = []
        dense[0][block], dense[1][block] = p, q
    if dense is not None:
        return dense
    sinks = lifted.others
    ident = sp.csr_matrix(
        (np.ones(len(sinks)), (np.arange(len(sinks)), sinks)), shape=(len(sinks), n)
    )
    order = np.concatenate([b[0] for b in sparse_blocks] + [sinks])
    inverse = np.empty(n, dtype=np.intp)
    inverse[order] = np.arange(n)
    r_pos = sp.vstack([b[1] for b in sparse_blocks] + [ident], format="csr")[inverse]
    r_neg = sp.vstack(
        [b[2] for b in sparse_blocks] + [sp.csr_matrix((len(sinks), n))], format="csr"
    )[inverse]
    return r_pos, r_neg


def _perturbations(
    X: np.ndarray | sp.spmatrix, n_genes: int, genes: Sequence[str]
) -> sp.csc_matrix:
    if X.ndim != 2 or X.shape[1] != n_genes:
        raise InputError(
            f"perturbation matrix has {X.shape[-1] if X.ndim else 0} columns, "
            f"the knowledge base has {n_genes} genes"
        )
    Xc = sp.csc_matrix(X, dtype=np.float64)
    Xc.eliminate_zeros()
    bad = ~np.isin(Xc.data, (-1.0, 1.0))
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        col = int(np.searchsorted(Xc.indptr, pos, side="right") - 1)
        raise InputError(
            f"perturbation values must be in {{-1, 0, 1}}, got {Xc.data[pos]!r}",
            row=int(Xc.indices[pos]),
            gene=str(genes[col]),
        )
    return Xc


def _signs(values: np.ndarray, margin: float) -> np.ndarray:
    out = np.sign(values).astype(np.int8)
    if margin > 0:
        out[np.abs(values) <= margin] = 0
    return out


def deduce(
    kb: KnowledgeBase,
    X: np.ndarray | sp.spmatrix,
    k: int,
    variant: Variant = "integer",
    margin: float = 0.0,
    *,
    block_size: int | None = None,
) -> np.ndarray:
    """δ_KB(x) = sign((R+(k) - R-(k))^T x) for each row x of X (section 2.2), m x n int8.

    Only closure rows of genes perturbed somewhere in X are computed (genes that
    regulate nothing contribute their identity row); a sign is kept only where
    |value| > `margin` (the reference's hard-coded "counts differ by more than 5" is
    margin=5; off by default). X is dense or scipy sparse with values in {-1, 0, 1}; a 1-D x
    gives a 1-D result. Working memory is 8 bytes x n per perturbed regulator plus
    blocks of about 16 MB; the n x n closure is never built.
    """
    _check_k_variant(k, variant)
    if margin < 0:
        raise InputError(f"margin must be non-negative, got {margin}")
    if not sp.issparse(X) and np.ndim(X) == 1:
        return deduce(kb, np.asarray(X)[None, :], k, variant, margin, block_size=block_size)[0]
    Xc = _perturbations(X if sp.issparse(X) else np.asarray(X), kb.n_genes, kb.genes)
    m, n = Xc.shape
    lifted = _lifted(kb)
    reg, others = lifted.regulators, lifted.others
    r, t = len(reg), len(others)
    layout = np.concatenate([reg, others])
    column = np.empty(n, dtype=np.intp)
    column[layout] = np.arange(n)
    perturbed = np.flatnonzero(np.diff(Xc.indptr))
    active = perturbed[lifted.position[perturbed] >= 0]
    sinks = perturbed[lifted.position[perturbed] < 0]
    diff = np.empty((len(active), n))
    size = _block_size(kb, block_size)
    for start in range(0, len(active), size):
        inner, outer = _propagate(lifted, active[start : start + size], k, variant)
        rows = diff[start : start + size]
        np.subtract(inner[:r], inner[r:], out=rows[:, :r].T)
        np.subtract(outer[:t], outer[t:], out=rows[:, r:].T)
    x_active = Xc[:, active].tocsr()
    x_sinks = Xc[:, sinks].tocsr()
    out = np.empty((m, n), dtype=np.int8)
    chunk = max(1, _BLOCK_BYTES // (8 * max(n, 1)))
    for c0 in range(0, m, chunk):
        values = x_active[c0 : c0 + chunk] @ diff
        if len(sinks):
            values[:, column[sinks]] += x_sinks[c0 : c0 + chunk].toarray()
        out[c0 : c0 + chunk, layout] = _signs(values, margin)
    return out


def inconsistency(kb_pred: np.ndarray, y: np.ndarray) -> int:
    """Inc (Eq. 2): number of entries where δ_KB(x) differs from y, summed over samples."""
    kb_pred, y = np.asarray(kb_pred), np.asarray(y)
    if kb_pred.shape != y.shape:
        raise InputError(f"shape mismatch: predictions {kb_pred.shape}, labels {y.shape}")
    return int(np.count_nonzero(kb_pred != y))


def inconsistency_report(
    X: np.ndarray | sp.spmatrix,
    Y: np.ndarray | sp.spmatrix,
    kb: KnowledgeBase,
    k: int,
    variant: Variant = "integer",
    genes: Sequence[str] | None = None,
    *,
    block_size: int | None = None,
) -> tuple[dict[str, float | int], pd.DataFrame]:
    """Data-derived relations against the KB closure, as in Figure 1.

    A relation is (perturbed gene g, responding gene j != g, condition) with Y != 0 and
    sign Y * x_g; a multi-gene condition gives one relation per perturbed gene. It is
    missing when R+(k) and R-(k) are both 0 at (g, j), conflicting when
    sign(R+(k) - R-(k)) is the opposite sign, agreeing when equal, and tied when the
    counts are equal but nonzero. Direct edges g -> j of R(0) are tested separately:
    the share whose observed sign equals the edge sign. `genes` names the columns of X
    and Y (default `kb.genes`); genes outside the KB have no relations in it.
    """
    _check_k_variant(k, variant)
    names = tuple(kb.genes if genes is None else genes)
    dense_x = X.toarray() if sp.issparse(X) else np.asarray(X)
    dense_y = Y.toarray() if sp.issparse(Y) else np.asarray(Y)
    if dense_x.shape != dense_y.shape or dense_x.ndim != 2:
        raise InputError(f"shape mismatch: X {dense_x.shape}, Y {dense_y.shape}")
    if dense_x.shape[1] != len(names):
        raise InputError(f"X has {dense_x.shape[1]} columns but {len(names)} gene names")
    _perturbations(dense_x, len(names), names)
    if not np.isin(dense_y, (-1, 0, 1)).all():
        row, col = np.argwhere(~np.isin(dense_y, (-1, 0, 1)))[0]
        raise InputError("response values must be in {-1, 0, 1}", row=int(row), gene=names[col])

    kb_col = np.array([kb.index.get(g, -1) for g in names], dtype=np.intp)
    in_kb = kb_col >= 0
    perturbed = np.flatnonzero((dense_x != 0).any(axis=0))
    direct = (kb.r_pos - sp.diags(kb.r_pos.diagonal()) - kb.r_neg).tocsr()
    direct_any = (kb.r_pos - sp.diags(kb.r_pos.diagonal()) + kb.r_neg).tocsr()

    def closure_of(cols: np.ndarray) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        known = cols[in_kb[cols]]
        for c in cols[~in_kb[cols]]:
            yield int(c), np.zeros(len(names)), np.zeros(len(names))
        blocks = iter_closure_blocks(kb, kb_col[known], k, variant, block_size=block_size)
        offset = 0
        for _, p, q in blocks:
            for i in range(len(p)):
                yield int(known[offset + i]), p[i], q[i]
            offset += len(p)

    records, ranks = [], []
    for c, p_row, q_row in closure_of(perturbed):
        conds = np.flatnonzero(dense_x[:, c])
        data_sign = dense_y[conds] * dense_x[conds, c][:, None]
        data_sign[:, c] = 0
        present = np.where(in_kb, (p_row[kb_col] + q_row[kb_col]) > 0, False)
        kb_sign = np.where(in_kb, np.sign(p_row[kb_col] - q_row[kb_col]), 0)
        responding = data_sign != 0
        edge_sign = np.zeros(len(names))
        has_edge = np.zeros(len(names), dtype=bool)
        if in_kb[c]:
            g = kb_col[c]
            edge_sign[in_kb] = direct[g].toarray().ravel()[kb_col[in_kb]]
            has_edge[in_kb] = direct_any[g].toarray().ravel()[kb_col[in_kb]] > 0
            has_edge[c] = False
        tested = np.broadcast_to(has_edge, data_sign.shape)
        ranks.append(c)
        records.append(
            {
                "gene": names[c],
                "in_kb": bool(in_kb[c]),
                "n_conditions": len(conds),
                "n_relations": int(responding.sum()),
                "n_missing": int((responding & ~present).sum()),
                "n_conflicting": int(
                    (responding & present & (data_sign == -kb_sign) & (kb_sign != 0)).sum()
                ),
                "n_agreeing": int((responding & present & (data_sign == kb_sign)).sum()),
                "n_tied": int((responding & present & (kb_sign == 0)).sum()),
                "n_direct_tested": int(tested.sum()),
                "n_direct_responding": int((tested & responding).sum()),
                "n_direct_agreeing": int((tested & (data_sign == edge_sign) & responding).sum()),
            }
        )
    per_regulator = pd.DataFrame(
        records,
        columns=[
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
        ],
    )
    per_regulator = per_regulator.iloc[np.argsort(ranks, kind="stable")].reset_index(drop=True)
    totals = {col: int(per_regulator[col].sum()) for col in per_regulator.columns[3:]}
    n_rel = totals["n_relations"]

    def share(a: int, b: int) -> float:
        return a / b if b else float("nan")

    summary: dict[str, float | int] = {
        "n_perturbed_genes": len(per_regulator),
        **totals,
        "share_missing": share(totals["n_missing"], n_rel),
        "share_conflicting": share(totals["n_conflicting"], n_rel),
        "share_agreeing": share(totals["n_agreeing"], n_rel),
        "share_tied": share(totals["n_tied"], n_rel),
        "share_direct_agreeing": share(totals["n_direct_agreeing"], totals["n_direct_tested"]),
        "share_direct_agreeing_responding": share(
            totals["n_direct_agreeing"], totals["n_direct_responding"]
        ),
    }
    return summary, per_regulator


def kb_statistics(
    kb: KnowledgeBase, k: int, variant: Variant = "integer"
) -> dict[str, float | int]:
    """Size of the GRN and density of its closure R+-(k) (Eq. 1), from regulator rows only."""
    n = kb.n_genes
    table = kb.edges()
    off_diagonal = table["regulator"] != table["target"]
    n_targets = int(table.loc[off_diagonal, "target"].nunique())
    reached = 0
    for rows, p, q in iter_closure_blocks(kb, kb.regulators, k, variant):
        nonzero = (p != 0) | (q != 0)
        reached += int(np.count_nonzero(nonzero)) - int(
            np.count_nonzero(nonzero[np.arange(len(rows)), rows])
        )
    return {
        "n_genes": n,
        "n_regulators": int(len(kb.regulators)),
        "n_targets": n_targets,
        "n_edges_pos": int((table["sign"] == 1).sum()),
        "n_edges_neg": int((table["sign"] == -1).sum()),
        "closure_density": reached / (n * (n - 1)) if n > 1 else 0.0,
    }
