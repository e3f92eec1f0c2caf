"""Closure of a signed GRN (Eq. 1) and deduction δ_KB (section 2.2), from closure rows only.

R+(k) and R-(k) count signed walks of exactly k+1 steps through R+(0) (which carries
the self-activation diagonal, so shorter paths survive) and R-(0): an even number of
inhibitions gives +, an odd number gives -. The "integer" variant (appendix B.3) keeps
the counts; the "boolean" variant clamps to {0, 1} after every step, which is "some walk
of at most k+1 steps with an even (+) / odd (-) number of inhibitions". Rows are
propagated through the regulator block (`walks.signed_walks`); nothing n x n is built
unless `closure` is asked for.

Integer counts grow like branching^(k+1). They are accumulated in float64, exact up to
2**53; a larger count raises OverflowError (use the boolean variant or a smaller k).
With an active `Abstention` rule, the integer variant weighs paths by their length
instead (pauses not counted) and abstains where the signed evidence is weak.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp

from aligned_kedro.core._checks import PERTURBATION_HINT, check_k, check_positive_int, check_ternary
from aligned_kedro.core.errors import InputError
from aligned_kedro.core.knowledge.abstention import Abstention
from aligned_kedro.core.knowledge.kb import KnowledgeBase
from aligned_kedro.core.knowledge.walks import column_product, leave, signed_walks

Variant = Literal["integer", "boolean"]
EXACT_LIMIT = float(2**53)
_BLOCK_BYTES = 16 * 2**20
_MAX_BLOCK = 4096


@dataclass(frozen=True)
class _RegulatorBlock:
    """R±(0) on regulator rows, transposed for column-vector propagation: regulator columns
    (`inner_t`, r x r) and the other genes' columns (`outer_t`, t x r)."""

    regulators: np.ndarray
    others: np.ndarray
    position: np.ndarray
    inner_t: tuple[sp.csr_matrix, sp.csr_matrix]
    outer_t: tuple[sp.csr_matrix, sp.csr_matrix]


_BLOCKS: weakref.WeakKeyDictionary[KnowledgeBase, _RegulatorBlock] = weakref.WeakKeyDictionary()


def _regulator_block(kb: KnowledgeBase) -> _RegulatorBlock:
    cached = _BLOCKS.get(kb)
    if cached is not None:
        return cached
    n = kb.n_genes
    reg = kb.regulators
    others = np.setdiff1d(np.arange(n, dtype=np.intp), reg, assume_unique=True)
    position = np.full(n, -1, dtype=np.intp)
    position[reg] = np.arange(len(reg))
    pos_rows, neg_rows = kb.r_pos[reg], kb.r_neg[reg]

    def transposed(matrix: sp.csr_matrix) -> sp.csr_matrix:
        return sp.csr_matrix(matrix.T, dtype=np.float64)

    block = _RegulatorBlock(
        regulators=reg,
        others=others,
        position=position,
        inner_t=(transposed(pos_rows[:, reg]), transposed(neg_rows[:, reg])),
        outer_t=(transposed(pos_rows[:, others]), transposed(neg_rows[:, others])),
    )
    _BLOCKS[kb] = block
    return block


def _path_block(block: _RegulatorBlock, decay: float) -> _RegulatorBlock:
    """The block without its pauses (the diagonal of R+(0)), every interaction weighted
    `decay`: walks through it are paths of L interactions weighing decay**L."""
    pos_t, neg_t = block.inner_t
    pos_t = (pos_t - sp.diags(pos_t.diagonal(), format="csr")).tocsr()
    pos_t.eliminate_zeros()
    return _RegulatorBlock(
        regulators=block.regulators,
        others=block.others,
        position=block.position,
        inner_t=(decay * pos_t, decay * neg_t),
        outer_t=(decay * block.outer_t[0], decay * block.outer_t[1]),
    )


def _check_variant(variant: str) -> None:
    if variant not in ("integer", "boolean"):
        raise InputError(f"variant must be 'integer' or 'boolean', got {variant!r}")


def _bound(variant: Variant, k: int) -> Callable[[np.ndarray], np.ndarray]:
    """The Boolean clamp to {0, 1}, or the check that integer counts are still exact."""
    if variant == "boolean":
        return lambda values: np.minimum(values, 1.0, out=values)

    def exact(values: np.ndarray) -> np.ndarray:
        if values.size and float(values.max()) > EXACT_LIMIT:
            raise OverflowError(
                f"integer path counts of the k={k} closure exceed 2**53 and are no longer "
                "exact in float64; use variant='boolean' or a smaller k"
            )
        return values

    return exact


def _block_size(kb: KnowledgeBase, block_size: int | None) -> int:
    if check_positive_int(block_size, "block_size", allow_none=True) is not None:
        return int(block_size)
    per_row = 8 * max(2 * kb.n_genes - 2 * len(kb.regulators), 2 * len(kb.regulators), 1)
    return int(min(_MAX_BLOCK, max(8, _BLOCK_BYTES // per_row)))


def _propagate(
    block: _RegulatorBlock, rows: np.ndarray, k: int, variant: Variant
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Regulator rows `rows` of (R+(k), R-(k)) by Eq. 1, as columns: (+, -) on the
    regulator columns (r x B each) and on the other genes' columns (t x B each)."""
    start = np.zeros((len(block.regulators), len(rows)))
    start[block.position[rows], np.arange(len(rows))] = 1.0
    bound = _bound(variant, k)
    walks = signed_walks(
        (start, np.zeros_like(start)), block.inner_t, k, product=column_product, bound=bound
    )
    return walks.last, leave(walks.reach, block.outer_t, product=column_product, bound=bound)


def _propagate_paths(
    block: _RegulatorBlock, rows: np.ndarray, k: int
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """As `_propagate` through a `_path_block`: the weighted positive and negative paths
    of 0..k+1 interactions from each of `rows`, as columns (regulators r x B, others t x B)."""
    start = np.zeros((len(block.regulators), len(rows)))
    start[block.position[rows], np.arange(len(rows))] = 1.0
    walks = signed_walks((start, np.zeros_like(start)), block.inner_t, k, product=column_product)
    inner = (walks.reach[0] + walks.last[0], walks.reach[1] + walks.last[1])
    return inner, leave(walks.reach, block.outer_t, product=column_product)


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
    """Rows of R+(k) and R-(k) (Eq. 1) in blocks, as `closure_rows` computes them.

    Parameters
    ----------
    kb, rows, k, variant, block_size
        As in `closure_rows`.

    Yields
    ------
    tuple of numpy.ndarray
        Gene indices of the block (B,), its R+(k) rows and its R-(k) rows, (B, n) float64.
    """
    check_k(k)
    _check_variant(variant)
    idx = _as_rows(kb, rows)
    block = _regulator_block(kb)
    size = _block_size(kb, block_size)
    for start in range(0, len(idx), size):
        genes = idx[start : start + size]
        p = np.zeros((len(genes), kb.n_genes))
        q = np.zeros_like(p)
        is_reg = block.position[genes] >= 0
        sinks = np.flatnonzero(~is_reg)
        p[sinks, genes[sinks]] = 1.0
        where = np.flatnonzero(is_reg)
        if len(where):
            (inner_p, inner_n), (outer_p, outer_n) = _propagate(block, genes[where], k, variant)
            sub_p = np.empty((len(where), kb.n_genes))
            sub_q = np.empty_like(sub_p)
            sub_p[:, block.regulators], sub_q[:, block.regulators] = inner_p.T, inner_n.T
            sub_p[:, block.others], sub_q[:, block.others] = outer_p.T, outer_n.T
            p[where], q[where] = sub_p, sub_q
        yield genes, p, q


def closure_rows(
    kb: KnowledgeBase,
    rows: Sequence[int] | Sequence[str] | np.ndarray,
    k: int,
    variant: Variant = "integer",
    *,
    block_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """R+(k) and R-(k) (Eq. 1) restricted to `rows`, by sparse propagation of those rows.

    Parameters
    ----------
    kb
        The KB, n genes.
    rows
        Gene indices or names, (B,).
    k
        Closure depth: walks of k+1 steps.
    variant
        "integer" (exact walk counts) or "boolean" (0/1, clamped after every step).
    block_size
        Rows propagated together (default: about 16 MB per working array).

    Returns
    -------
    tuple of numpy.ndarray
        R+(k) and R-(k) rows, (B, n) float64 each.

    Raises
    ------
    OverflowError
        An integer count exceeds 2**53 (no longer exact in float64).
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
    R+(k) and zero in R-(k). Prefer `deduce`, which never builds the n x n closure.

    Parameters
    ----------
    kb, k, variant, block_size
        As in `closure_rows`.
    dense_threshold
        Largest share of nonzero entries (of n²) kept as sparse matrices.

    Returns
    -------
    tuple
        R+(k) and R-(k), (n, n) each: scipy CSR while the larger has at most
        ``dense_threshold * n * n`` nonzeros, dense float64 arrays otherwise.
    """
    check_k(k)
    _check_variant(variant)
    n = kb.n_genes
    limit = dense_threshold * n * n
    others = _regulator_block(kb).others
    sparse_blocks: list[tuple[np.ndarray, sp.csr_matrix, sp.csr_matrix]] = []
    dense: tuple[np.ndarray, np.ndarray] | None = None
    nnz_p = nnz_q = len(others)
    for block, p, q in iter_closure_blocks(kb, kb.regulators, k, variant, block_size=block_size):
        if dense is None:
            nnz_p += int(np.count_nonzero(p))
            nnz_q += int(np.count_nonzero(q))
            if max(nnz_p, nnz_q) <= limit:
                sparse_blocks.append((block, sp.csr_matrix(p), sp.csr_matrix(q)))
                continue
            dense = (np.zeros((n, n)), np.zeros((n, n)))
            dense[0][others, others] = 1.0
            for done, dp, dq in sparse_blocks:
                dense[0][done] = dp.toarray()
                dense[1][done] = dq.toarray()
            sparse_blocks = []
        dense[0][block], dense[1][block] = p, q
    if dense is not None:
        return dense
    ident = sp.csr_matrix(
        (np.ones(len(others)), (np.arange(len(others)), others)), shape=(len(others), n)
    )
    order = np.concatenate([b[0] for b in sparse_blocks] + [others])
    inverse = np.empty(n, dtype=np.intp)
    inverse[order] = np.arange(n)
    r_pos = sp.vstack([b[1] for b in sparse_blocks] + [ident], format="csr")[inverse]
    r_neg = sp.vstack(
        [b[2] for b in sparse_blocks] + [sp.csr_matrix((len(others), n))], format="csr"
    )[inverse]
    return r_pos, r_neg


def _perturbation_columns(
    X: np.ndarray | sp.spmatrix, genes: Sequence[str], *, name: str = "X"
) -> sp.csc_matrix:
    """Perturbations x in {-1, 0, 1}^n (section 2.1) as a float64 CSC matrix, (m, n).

    A bad value raises `InputError` naming its row and gene; a column count other than
    ``len(genes)`` raises naming both.
    """
    if X.ndim != 2 or X.shape[1] != len(genes):
        raise InputError(
            f"perturbation matrix has {X.shape[-1] if X.ndim else 0} columns, "
            f"the knowledge base has {len(genes)} genes"
        )
    Xc = sp.csc_matrix(X, dtype=np.float64)
    Xc.eliminate_zeros()
    check_ternary(Xc, name, hint=PERTURBATION_HINT, genes=genes, sparse=True)
    return Xc


def _signs(values: np.ndarray, margin: float, keep: np.ndarray | None = None) -> np.ndarray:
    out = np.sign(values).astype(np.int8)
    if margin > 0:
        out[np.abs(values) <= margin] = 0
    if keep is not None:
        out[~keep] = 0
    return out


def deduce(
    kb: KnowledgeBase,
    X: np.ndarray | sp.spmatrix,
    k: int,
    variant: Variant = "integer",
    margin: float = 0.0,
    *,
    abstention: Abstention | None = None,
    block_size: int | None = None,
) -> np.ndarray:
    """δ_KB(x) = sign((R+(k) - R-(k))^T x) for each row x of X (section 2.2).

    Only closure rows of genes perturbed somewhere in X are computed (a gene that
    regulates nothing contributes its identity row). Working memory is 8 bytes x n per
    perturbed regulator (twice that under an active `abstention`) plus blocks of about
    16 MB; the n x n closure is never built.

    Parameters
    ----------
    kb
        The KB, n genes.
    X
        Perturbations in {-1, 0, 1}, (m, n) dense or scipy sparse, or one input (n,).
    k
        Closure depth: walks of k+1 steps (Eq. 1).
    variant
        "integer" (walk counts) or "boolean" (walk existence).
    margin
        A sign is kept only where |value| > margin (the reference code's "counts differ
        by more than 5" is margin=5; 0 by default).
    abstention
        With the integer variant and an active rule, the value is P - N over paths of at
        most k+1 interactions weighted by length, and a sign is kept only where the
        rule's balance holds (`Abstention`); off (None or balance 0): the paper's counts.
        The Boolean variant does not use it.
    block_size
        Closure rows propagated together (default: about 16 MB per working array).

    Returns
    -------
    numpy.ndarray
        δ_KB(x) in {-1, 0, 1}, (m, n) int8, or (n,) for a 1-D `X`.
    """
    check_k(k)
    _check_variant(variant)
    if margin < 0:
        raise InputError(f"margin must be non-negative, got {margin}")
    if not sp.issparse(X) and np.ndim(X) == 1:
        return deduce(
            kb,
            np.asarray(X)[None, :],
            k,
            variant,
            margin,
            abstention=abstention,
            block_size=block_size,
        )[0]
    Xc = _perturbation_columns(X if sp.issparse(X) else np.asarray(X), kb.genes)
    rule = abstention if abstention is not None and abstention.active else None
    if variant != "integer":
        rule = None
    m, n = Xc.shape
    block = _regulator_block(kb)
    if rule is not None:
        block = _path_block(block, rule.decay)
    r = len(block.regulators)
    layout = np.concatenate([block.regulators, block.others])
    column = np.empty(n, dtype=np.intp)
    column[layout] = np.arange(n)
    perturbed = np.flatnonzero(np.diff(Xc.indptr))
    active = perturbed[block.position[perturbed] >= 0]
    sinks = perturbed[block.position[perturbed] < 0]
    diff = np.empty((len(active), n))
    total = np.empty((len(active), n)) if rule is not None else None
    size = _block_size(kb, block_size)
    for start in range(0, len(active), size):
        rows = active[start : start + size]
        if rule is None:
            inner, outer = _propagate(block, rows, k, variant)
        else:
            inner, outer = _propagate_paths(block, rows, k)
            np.add(*inner, out=total[start : start + size, :r].T)
            np.add(*outer, out=total[start : start + size, r:].T)
        np.subtract(*inner, out=diff[start : start + size, :r].T)
        np.subtract(*outer, out=diff[start : start + size, r:].T)
    x_active = Xc[:, active].tocsr()
    x_sinks = Xc[:, sinks].tocsr()
    out = np.empty((m, n), dtype=np.int8)
    chunk = max(1, _BLOCK_BYTES // (8 * max(n, 1)))
    for c0 in range(0, m, chunk):
        values = x_active[c0 : c0 + chunk] @ diff
        if len(sinks):
            values[:, column[sinks]] += x_sinks[c0 : c0 + chunk].toarray()
        keep = None
        if rule is not None:
            totals = abs(x_active[c0 : c0 + chunk]) @ total
            if len(sinks):
                totals[:, column[sinks]] += abs(x_sinks[c0 : c0 + chunk]).toarray()
            keep = rule.keep(values, totals)
        out[c0 : c0 + chunk, layout] = _signs(values, margin, keep)
    return out


def kb_statistics(
    kb: KnowledgeBase, k: int, variant: Variant = "integer"
) -> dict[str, float | int]:
    """Size of the GRN and density of its closure R±(k) (Eq. 1), from regulator rows only.

    Parameters
    ----------
    kb
        The KB, n genes.
    k, variant
        As in `closure_rows`.

    Returns
    -------
    dict
        n_genes, n_regulators, n_targets (of an off-diagonal edge), n_edges_pos,
        n_edges_neg, and closure_density: the share of the n(n-1) off-diagonal pairs
        (g, j) where R+(k) or R-(k) is nonzero.
    """
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
