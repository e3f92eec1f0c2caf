"""The training inputs of Eq. 5, checked once and put on the device: X_l and X_u in one
tensor, the class-index targets, δ_KB(x), w and the class weights of the cross-entropy."""

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

IGNORE = -100


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
    """Training inputs on the device: X_l rows first, then X_u rows; for an adaptive
    f_a the path evidence of those rows and the per-input prior (head and per-gene bias
    logit(w))."""

    X: torch.Tensor
    m_l: int
    targets: torch.Tensor
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
    adaptor). Columns outside `measured` (latent genes, no labels) get the target
    `IGNORE` and no say in the class weights: the cross-entropy leaves them out.
    `routing` (an adaptive f_a) adds the rows' path evidence and the per-input prior."""
    shape = np.shape(X_l)
    if len(shape) == 2 and shape[1] != n:
        raise InputError(
            f"X_l has {shape[1]} columns but model_config.n_genes is {n}", source="X_l"
        )
    X_l_arr = check_perturbations(X_l, n, name="X_l")
    Y_l_arr = check_ternary(Y_l, "Y_l", shape=X_l_arr.shape, dtype=np.int64)
    X_u_arr = np.zeros((0, n), dtype=np.float32)
    w_arr = kb = w_t = None
    if adaptor:
        if w is None or kb_pred_l is None:
            raise InputError("training with the adaptor needs w and kb_pred_l", source="adaptor")
        w_arr = check_probabilities(w, "w", shape=(n,), source="weight vector")
        kb_parts = [check_ternary(kb_pred_l, "kb_pred_l", shape=X_l_arr.shape, dtype=np.int64)]
        if X_u is not None and np.shape(X_u)[0] > 0:
            X_u_arr = check_perturbations(X_u, n, name="X_u")
            if kb_pred_u is None:
                raise InputError("X_u is given without kb_pred_u", source="kb_pred_u")
            kb_parts.append(
                check_ternary(kb_pred_u, "kb_pred_u", shape=X_u_arr.shape, dtype=np.int64)
            )
        kb = torch.as_tensor(np.vstack(kb_parts), device=device)
        w_t = torch.as_tensor(w_arr, dtype=torch.float32, device=device)
    targets = Y_l_arr + 1
    if measured is not None and not np.all(measured):
        mask = check_gene_mask(measured, n)
        targets[:, ~mask] = IGNORE
        Y_l_arr = Y_l_arr[:, mask]
    weights = class_weights(Y_l_arr) if train_config.class_weighting else np.ones(3)
    batches = Batches(
        X=torch.as_tensor(np.vstack([X_l_arr, X_u_arr]), device=device),
        m_l=len(X_l_arr),
        targets=torch.as_tensor(targets, device=device),
        kb=kb,
        w=w_t,
        class_weight=torch.as_tensor(weights, dtype=torch.float32, device=device),
    )
    if adaptor and routing is not None:
        evidence = routing.evidence(len(X_l_arr), len(X_u_arr))
        batches.evidence = evidence.tensors(device)
        if routing.prior is not None:
            batches.prior = prior_head(routing.prior, device)
            batches.prior_bias = torch.as_tensor(
                adaptor_bias(w_arr), dtype=torch.float32, device=device
            )
    return batches, w_arr
