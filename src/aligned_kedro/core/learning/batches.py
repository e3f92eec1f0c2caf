"""The training inputs of Eq. 5, checked once and put on the device: the distinct inputs
of X_l, then X_u's rows, in one tensor; the label counts of each distinct labelled input;
δ_KB(x) (int8), w and the class weights of the cross-entropy.

Per-cell screens repeat one input x for every cell of a condition; f_y(x) depends on x
alone and L_a (Eq. 4) on x and δ_KB(x), so each distinct (x, δ) is one row here, with the
counts of its cells' labels per class and gene: the cross-entropy over the cells is then
exact at the cost of one row, and the row's REINFORCE term is weighted by its cells.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from aligned_kedro.core._checks import (
    check_gene_mask,
    check_perturbations,
    check_probabilities,
    check_ternary,
)
from aligned_kedro.core.errors import InputError
from aligned_kedro.core.learning.adaptor import adaptor_bias
from aligned_kedro.core.learning.routing import RouteHead, RouteInputs, prior_head
from aligned_kedro.core.learning.trained import TrainConfig

MAX_BATCH_LOGITS = 2**25


def distinct_rows(
    X: np.ndarray, kb_pred: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The first row of each distinct row of X (with `kb_pred`: of X and δ_KB(x) side by
    side), in order of appearance, and for every row the position of its distinct row
    among them.

    Returns
    -------
    first : numpy.ndarray, shape (u,), int64
    inverse : numpy.ndarray, shape (m,), int64
    """
    contiguous = np.ascontiguousarray(X if kb_pred is None else np.hstack([X, kb_pred]))
    keys = contiguous.view(np.dtype((np.void, contiguous.dtype.itemsize * contiguous.shape[1])))
    _, first, inverse = np.unique(keys.ravel(), return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return first[order].astype(np.int64), rank[inverse.ravel()].astype(np.int64)


def label_counts(Y: np.ndarray, inverse: np.ndarray, u: int) -> np.ndarray:
    """Per distinct input (rows of Y grouped by `inverse`), the number of its rows with
    label -1, 0 and 1 at each gene: shape (u, 3, n), of the smallest integer type that holds
    the largest group (uint8, int16 or int32)."""
    sizes = np.bincount(inverse, minlength=u)
    largest = int(sizes.max(initial=0))
    dtype = np.uint8 if largest <= 255 else np.int16 if largest <= 32767 else np.int32
    counts = np.zeros((u, 3, Y.shape[1]), dtype=dtype)
    if u == 0:
        return counts
    order = np.argsort(inverse, kind="stable")
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    grouped = Y[order]
    for c in (0, 2):
        counts[:, c] = np.add.reduceat(np.equal(grouped, c - 1), starts, axis=0, dtype=np.int32)
    counts[:, 1] = sizes[:, None] - counts[:, 0] - counts[:, 2]
    return counts


def batch_rows(batch_size: int | str | None, m: int, n: int) -> int:
    """Distinct inputs per optimiser step: all of them for ``None``; for ``"auto"`` all of
    them while the step's logits (rows x 3 x n) stay within `MAX_BATCH_LOGITS` values,
    else as many rows as fit (at least 2)."""
    if batch_size is None:
        return max(m, 1)
    if batch_size == "auto":
        return max(m, 1) if m * 3 * n <= MAX_BATCH_LOGITS else max(2, MAX_BATCH_LOGITS // (3 * n))
    return int(batch_size)


def class_weights(Y: np.ndarray) -> np.ndarray:
    """Inverse class frequency of (-1, 0, 1) in Y, normalised to mean 1 over the classes
    present (absent classes get 1; they never occur as a target)."""
    counts = np.array([np.count_nonzero(np.equal(Y, c)) for c in (-1, 0, 1)], dtype=np.float64)
    present = counts > 0
    weights = np.ones(3)
    weights[present] = counts.sum() / counts[present]
    weights[present] /= weights[present].mean()
    return weights


@dataclass
class Batches:
    """Training inputs on the device: the distinct inputs of X_l first, then X_u's rows
    (float32); the label counts of the first `m_l` rows; the number of labelled rows each
    row stands for (None when every row stands for one); δ_KB(x) (int8); for an adaptive
    f_a the path evidence of those rows and the per-input prior (head and per-gene bias
    logit(w))."""

    X: torch.Tensor
    m_l: int
    counts: torch.Tensor
    multiplicity: torch.Tensor | None
    kb: torch.Tensor | None
    w: torch.Tensor | None
    class_weight: torch.Tensor
    evidence: dict[str, torch.Tensor] | None = None
    prior: RouteHead | None = None
    prior_bias: torch.Tensor | None = None


def prepare_batches(
    X_l: Any,
    Y_l: Any,
    kb_pred_l: Any,
    X_u: Any,
    kb_pred_u: Any,
    w: Any,
    n: int,
    adaptor: bool,
    train_config: TrainConfig,
    device: torch.device,
    measured: Any = None,
    routing: RouteInputs | None = None,
) -> tuple[Batches, np.ndarray | None]:
    """The checked training inputs on `device`, and w as checked (None without the
    adaptor). Rows of X_l with the same input (and δ_KB(x)) become one row with their label
    counts. Columns outside `measured` (latent genes, no labels) get no counts and no say
    in the class weights: the cross-entropy leaves them out. `routing` (an adaptive f_a)
    adds the rows' path evidence and the per-input prior."""
    shape = np.shape(X_l)
    if len(shape) == 2 and shape[1] != n:
        raise InputError(
            f"X_l has {shape[1]} columns but model_config.n_genes is {n}", source="X_l"
        )
    X_l_arr = check_perturbations(X_l, n, name="X_l")
    Y_l_arr = check_ternary(Y_l, "Y_l", shape=X_l_arr.shape, dtype=np.int8)
    X_u_arr = np.zeros((0, n), dtype=np.float32)
    w_arr = kb = w_t = kb_l = None
    if adaptor:
        if w is None or kb_pred_l is None:
            raise InputError("training with the adaptor needs w and kb_pred_l", source="adaptor")
        w_arr = check_probabilities(w, "w", shape=(n,), source="weight vector")
        kb_l = check_ternary(kb_pred_l, "kb_pred_l", shape=X_l_arr.shape, dtype=np.int8)
    first, inverse = distinct_rows(X_l_arr.astype(np.int8), kb_l)
    if adaptor:
        kb_parts = [kb_l[first]]
        if X_u is not None and np.shape(X_u)[0] > 0:
            X_u_arr = check_perturbations(X_u, n, name="X_u")
            if kb_pred_u is None:
                raise InputError("X_u is given without kb_pred_u", source="kb_pred_u")
            kb_parts.append(
                check_ternary(kb_pred_u, "kb_pred_u", shape=X_u_arr.shape, dtype=np.int8)
            )
        kb = torch.as_tensor(np.vstack(kb_parts), device=device)
        w_t = torch.as_tensor(w_arr, dtype=torch.float32, device=device)
    counts = label_counts(Y_l_arr, inverse, len(first))
    if measured is not None and not np.all(measured):
        mask = check_gene_mask(measured, n)
        counts[:, :, ~mask] = 0
        Y_l_arr = Y_l_arr[:, mask]
    weights = class_weights(Y_l_arr) if train_config.class_weighting else np.ones(3)
    cells = np.bincount(inverse, minlength=len(first))
    multiplicity = None
    if (cells > 1).any():
        rows = np.concatenate([cells, np.ones(len(X_u_arr), dtype=np.int64)])
        multiplicity = torch.as_tensor(rows, dtype=torch.float32, device=device)
    batches = Batches(
        X=torch.as_tensor(np.vstack([X_l_arr[first], X_u_arr]), device=device),
        m_l=len(first),
        counts=torch.as_tensor(counts, device=device),
        multiplicity=multiplicity,
        kb=kb,
        w=w_t,
        class_weight=torch.as_tensor(weights, dtype=torch.float32, device=device),
    )
    if adaptor and routing is not None:
        evidence = routing.evidence(len(X_l_arr), len(X_u_arr))
        kept = np.concatenate([first, len(X_l_arr) + np.arange(len(X_u_arr))])
        batches.evidence = evidence.rows(kept).tensors(device)
        if routing.prior is not None:
            batches.prior = prior_head(routing.prior, device)
            batches.prior_bias = torch.as_tensor(
                adaptor_bias(w_arr), dtype=torch.float32, device=device
            )
    return batches, w_arr
