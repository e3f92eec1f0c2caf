"""Predictions of a trained model: ŷ = argmax f_y(x), f_a's probability of using the KB,
and ȳ (section 3.3)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from aligned_kedro.core._checks import check_perturbations, check_ternary
from aligned_kedro.core.errors import InputError
from aligned_kedro.core.learning.adaptor import combine
from aligned_kedro.core.learning.batches import distinct_rows
from aligned_kedro.core.learning.routing import PathEvidence, route_features
from aligned_kedro.core.learning.trained import TrainedModel

PREDICT_CHUNK = 256


def ternary_argmax(logits: torch.Tensor) -> torch.Tensor:
    """argmax over the class axis of m x 3 x n logits as labels in {-1, 0, 1} (the first
    maximum wins, as in torch.argmax, which is far slower along a middle axis)."""
    down, none, up = logits.unbind(1)
    label = torch.where(none > down, 0, -1)
    return torch.where(up > torch.maximum(down, none), 1, label)


@torch.no_grad()
def predict(
    trained: TrainedModel,
    X: Any,
    kb_pred: Any = None,
    evidence: PathEvidence | None = None,
    *,
    probabilities: bool = False,
) -> dict[str, np.ndarray]:
    """Predictions for the rows of X: y_hat (argmax of f_y, in {-1, 0, 1}), p_a (f_a's
    probability of using the KB), a (p_a > 0.5, 0/1) and y_bar (ȳ = δ where a = 1, ŷ
    elsewhere). For a neural-only model a = 0, p_a = 0 and y_bar = y_hat; kb_pred may
    then be None. Rows with the same input and δ_KB(x) (the cells of one condition) are
    computed once. An adaptive f_a (``routing: adaptive``) reads the route features of
    each input, so it needs the KB's `evidence` for X (`routing.path_evidence`).

    Parameters
    ----------
    trained : TrainedModel
    X : array-like or scipy.sparse matrix, shape (m, n)
        Inputs x in {-1, 0, 1}, each perturbing at least one gene.
    kb_pred : array-like, shape (m, n), optional
        δ_KB(x); required for a model with an adaptor.
    evidence : PathEvidence, optional
        The KB's path evidence for X; required for an adaptive adaptor.
    probabilities : bool
        Also return f_y's class probabilities ``p_y``.

    Returns
    -------
    dict of str to numpy.ndarray
        ``y_hat``, ``a`` and ``y_bar`` (int8) and ``p_a`` (float32), each (m, n); with
        `probabilities`, ``p_y`` (float32, (m, n, 3), classes -1, 0, 1).
    """
    n = trained.model_config.n_genes
    X_all = check_perturbations(X, n, name="X")
    model = trained.model
    model.eval()
    device = next(model.parameters()).device
    routed = trained.adaptor and model.adaptive
    kb = None
    if trained.adaptor:
        if kb_pred is None:
            raise InputError("predict with an adaptor model needs kb_pred", source="kb_pred")
        kb = check_ternary(kb_pred, "kb_pred", shape=X_all.shape, dtype=np.int8)
        if routed and (evidence is None or evidence.up.shape != X_all.shape):
            raise InputError(
                "an adaptive adaptor needs the KB's path evidence for every row of X",
                source="evidence",
            )
    first, inverse = distinct_rows(X_all.astype(np.int8), kb)
    X_arr = X_all[first]
    if kb is not None:
        kb = kb[first]
    if routed:
        evidence = evidence.rows(first)
    y_hat = np.empty(X_arr.shape, dtype=np.int8)
    p_a = np.zeros(X_arr.shape, dtype=np.float32)
    p_y = np.empty((*X_arr.shape, 3), dtype=np.float32) if probabilities else None
    encode = model.encoder()
    for begin in range(0, len(X_arr), PREDICT_CHUNK):
        rows = slice(begin, begin + PREDICT_CHUNK)
        encoding = encode(torch.as_tensor(X_arr[rows], device=device))
        logits = model.classify(encoding)
        by_class = logits.transpose(1, 2)
        y_hat[rows] = ternary_argmax(by_class).cpu().numpy()
        if p_y is not None:
            p_y[rows] = torch.softmax(by_class, 1).transpose(1, 2).cpu().numpy()
        if trained.adaptor:
            features = None
            if routed:
                features = route_features(
                    torch.as_tensor(kb[rows], device=device),
                    torch.softmax(logits, -1),
                    evidence.rows(rows).tensors(device),
                )
            p_a[rows] = torch.sigmoid(model.adapt(encoding, features=features)).cpu().numpy()
    if not trained.adaptor:
        out = {"y_hat": y_hat, "a": np.zeros_like(y_hat), "y_bar": y_hat.copy(), "p_a": p_a}
    else:
        a = (p_a > 0.5).astype(np.int8)
        out = {"y_hat": y_hat, "a": a, "y_bar": combine(a, y_hat, kb).astype(np.int8), "p_a": p_a}
    if p_y is not None:
        out["p_y"] = p_y
    if len(first) == len(X_all):
        return out
    return {name: values[inverse] for name, values in out.items()}
