"""Predictions of a trained model: ŷ = argmax f_y(x), f_a's probability of using the KB,
and ȳ (section 3.3)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from aligned_kedro.core._checks import check_perturbations, check_ternary
from aligned_kedro.core.errors import InputError
from aligned_kedro.core.learning.adaptor import combine
from aligned_kedro.core.learning.trained import TrainedModel

PREDICT_CHUNK = 256


def ternary_argmax(logits: torch.Tensor) -> torch.Tensor:
    """argmax over the class axis of m x 3 x n logits as labels in {-1, 0, 1} (the first
    maximum wins, as in torch.argmax, which is far slower along a middle axis)."""
    down, none, up = logits.unbind(1)
    label = torch.where(none > down, 0, -1)
    return torch.where(up > torch.maximum(down, none), 1, label)


@torch.no_grad()
def predict(trained: TrainedModel, X: Any, kb_pred: Any = None) -> dict[str, np.ndarray]:
    """Predictions for the rows of X: y_hat (argmax of f_y, in {-1, 0, 1}), p_a (f_a's
    probability of using the KB), a (p_a > 0.5, 0/1) and y_bar (ȳ = δ where a = 1, ŷ
    elsewhere). For a neural-only model a = 0, p_a = 0 and y_bar = y_hat; kb_pred may
    then be None.

    Parameters
    ----------
    trained : TrainedModel
    X : array-like or scipy.sparse matrix, shape (m, n)
        Inputs x in {-1, 0, 1}, each perturbing at least one gene.
    kb_pred : array-like, shape (m, n), optional
        δ_KB(x); required for a model with an adaptor.

    Returns
    -------
    dict of str to numpy.ndarray, each shape (m, n)
        ``y_hat``, ``a`` and ``y_bar`` (int8) and ``p_a`` (float32).
    """
    n = trained.model_config.n_genes
    X_arr = check_perturbations(X, n, name="X")
    model = trained.model
    model.eval()
    device = next(model.parameters()).device
    y_hat = np.empty(X_arr.shape, dtype=np.int8)
    p_a = np.zeros(X_arr.shape, dtype=np.float32)
    for begin in range(0, len(X_arr), PREDICT_CHUNK):
        x = torch.as_tensor(X_arr[begin : begin + PREDICT_CHUNK], device=device)
        logits, logits_a = model(x)
        y_hat[begin : begin + len(x)] = ternary_argmax(logits.transpose(1, 2)).cpu().numpy()
        if trained.adaptor:
            p_a[begin : begin + len(x)] = torch.sigmoid(logits_a).cpu().numpy()
    if not trained.adaptor:
        return {"y_hat": y_hat, "a": np.zeros_like(y_hat), "y_bar": y_hat.copy(), "p_a": p_a}
    if kb_pred is None:
        raise InputError("predict with an adaptor model needs kb_pred", source="kb_pred")
    kb = check_ternary(kb_pred, "kb_pred", shape=X_arr.shape, dtype=np.int8)
    a = (p_a > 0.5).astype(np.int8)
    return {"y_hat": y_hat, "a": a, "y_bar": combine(a, y_hat, kb).astype(np.int8), "p_a": p_a}
