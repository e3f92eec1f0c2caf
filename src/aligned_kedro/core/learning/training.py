"""Adaptive alignment (Eq. 5): joint training of f_y and f_a, f_y alone, and f_y's
out-of-fold predictions.

Stage A of Algorithm 1 (appendix D): cross-entropy of f_y on the labelled data plus
C x the REINFORCE estimate of L_a (Eq. 4) over labelled and unlabelled inputs.
"""

from __future__ import annotations

import copy
import logging
import random
import time
from typing import Any

import numpy as np
import torch

from aligned_kedro.core.errors import InputError
from aligned_kedro.core.learning.adaptor import (
    gene_rewards,
    hinge_credit,
    kb_usage,
    normalise_advantages,
    reinforce_loss,
)
from aligned_kedro.core.learning.batches import Batches, batch_rows, prepare_batches
from aligned_kedro.core.learning.inference import predict, ternary_argmax
from aligned_kedro.core.learning.models import (
    Encoding,
    GNNModel,
    MLPModel,
    ModelConfig,
    build_model,
    check_edge_index,
    check_edge_weight,
    resolve_device,
)
from aligned_kedro.core.learning.routing import RouteInputs, route_features
from aligned_kedro.core.learning.trained import TrainConfig, TrainedModel
from aligned_kedro.core.threads import torch_threads

__all__ = [
    "TrainConfig",
    "TrainedModel",
    "count_cross_entropy",
    "out_of_fold_predictions",
    "predict",
    "train",
    "train_neural_only",
]

HISTORY_KEYS = ("loss", "ce", "reinforce", "l_a", "kb_usage", "epoch_s")


def seed_everything(seed: int) -> None:
    """Seed python's random, numpy and torch."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class _CountCrossEntropy(torch.autograd.Function):
    """Σ weighted · (logsumexp(z) − z) over m x 3 x n logits z, softmax and log-softmax
    never stored: the backward pass recomputes softmax from z and its logsumexp."""

    @staticmethod
    def forward(ctx: Any, logits: torch.Tensor, weighted: torch.Tensor) -> torch.Tensor:
        lse = torch.logsumexp(logits, 1, keepdim=True)
        ctx.save_for_backward(logits, lse, weighted)
        return (weighted.sum(1, keepdim=True) * lse).sum() - (weighted * logits).sum()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        logits, lse, weighted = ctx.saved_tensors
        softmax = torch.exp(logits - lse)
        return grad * (softmax * weighted.sum(1, keepdim=True) - weighted), None


def count_cross_entropy(
    logits: torch.Tensor, counts: torch.Tensor, class_weight: torch.Tensor
) -> torch.Tensor:
    """Class-weighted cross-entropy of f_y (Eq. 5, first term) against label counts:
    Σ count · w_c · (−log p_c) / Σ count · w_c, the weighted mean over every labelled row
    an input stands for (`F.cross_entropy` with `weight`, on the rows expanded), fused:
    one logsumexp, no log-softmax tensor.

    Parameters
    ----------
    logits : torch.Tensor, shape (m, 3, n)
        f_y's logits, classes -1, 0, 1.
    counts : torch.Tensor, shape (m, 3, n)
        Labelled rows of each input with each class at each gene (0 where unlabelled).
    class_weight : torch.Tensor, shape (3,)

    Returns
    -------
    torch.Tensor
        A scalar; 0 (with a gradient of 0) when nothing is counted.
    """
    weighted = counts.to(logits.dtype) * class_weight[:, None]
    total = weighted.sum()
    if not bool(total > 0):
        return logits.sum() * 0.0
    return _CountCrossEntropy.apply(logits, weighted) / total


def _step(
    model: MLPModel | GNNModel,
    data: Batches,
    idx: torch.Tensor,
    tc: TrainConfig,
    adaptor: bool,
    generator: torch.Generator,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Loss of Eq. 5 on the rows `idx`, with the terms logged in the history."""
    labelled = idx < data.m_l
    encoding = model.encode(data.X[idx])
    logits = None
    ce = encoding.sample.sum() * 0.0
    if bool(labelled.any()):
        # Eq. 5, first term: CE(f_y(x), y) on the labelled rows
        logits = model.classify(encoding.rows(labelled)).transpose(1, 2)
        ce = count_cross_entropy(logits, data.counts[idx[labelled]], data.class_weight)
    terms = {"ce": float(ce.detach()), "reinforce": 0.0, "l_a": 0.0, "kb_usage": 0.0}
    if not adaptor:
        terms["loss"] = terms["ce"]
        return ce, terms
    y_hat, probs = _neural_answer(model, encoding, labelled, logits, data.evidence is not None)
    kb = data.kb[idx]
    w = data.w
    if probs is None:
        logits_a = model.adapt(encoding, tc.shared_grad_scale)
    else:
        evidence = {name: values[idx] for name, values in data.evidence.items()}
        features = route_features(kb, probs, evidence)
        logits_a = model.adapt(encoding, tc.shared_grad_scale, features)
        if data.prior is not None:
            # the per-input prior w(x) of Eq. 4's L_weight
            w = torch.sigmoid(data.prior_bias + data.prior(features))
    # a ~ Bernoulli(f_a(x)); L_a of Eq. 4, credited per gene
    a = torch.bernoulli(torch.sigmoid(logits_a.detach()), generator=generator)
    rewards = gene_rewards(
        a, y_hat, kb, w, tc.c_l, tc.c_w, tc.theta_share, tc.use_inc, use_len=False
    )
    l_a = rewards.sum(-1)
    if tc.use_len:
        theta = tc.theta_share * a.shape[-1]
        rewards = rewards + tc.c_l * hinge_credit(a, theta)
        l_a = l_a + tc.c_l * torch.clamp(a.sum(-1) - theta, min=0.0)
    rows = None if data.multiplicity is None else data.multiplicity[idx]
    rl = reinforce_loss(logits_a, a, normalise_advantages(rewards, weights=rows), rows)
    # Eq. 5: CE + C x the REINFORCE estimate of the gradient of E[L_a]
    loss = ce + tc.c * rl
    terms.update(
        loss=float(loss.detach()),
        reinforce=float(rl.detach()),
        l_a=_row_mean(l_a, rows),
        kb_usage=kb_usage(a) if rows is None else _row_mean(a.mean(-1), rows),
    )
    return loss, terms


def _row_mean(values: torch.Tensor, rows: torch.Tensor | None) -> float:
    """Mean of per-row values, each row counted `rows` times."""
    if rows is None:
        return float(values.mean())
    return float((rows * values).sum() / rows.sum())


def _epochs(
    model: MLPModel | GNNModel,
    data: Batches,
    tc: TrainConfig,
    adaptor: bool,
    optimiser: torch.optim.Optimizer,
    generator: torch.Generator,
    logger: logging.Logger | None,
) -> dict[str, list[float]]:
    """The epoch loop of `train`; returns the per-epoch history."""
    device = data.X.device
    m_all = len(data.X)
    batch = batch_rows(tc.batch_size, m_all, data.X.shape[1])
    history: dict[str, list[float]] = {key: [] for key in HISTORY_KEYS}
    for epoch in range(1, tc.epochs + 1):
        start = time.perf_counter()
        model.train()
        order = (
            torch.randperm(m_all, generator=generator, device=device)
            if batch < m_all
            else torch.arange(m_all, device=device)
        )
        sums = dict.fromkeys(HISTORY_KEYS[:-1], 0.0)
        for begin in range(0, m_all, batch):
            idx = order[begin : begin + batch]
            loss, terms = _step(model, data, idx, tc, adaptor, generator)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            for key, value in terms.items():
                sums[key] += value * len(idx) / m_all
        history["epoch_s"].append(time.perf_counter() - start)
        for key, value in sums.items():
            history[key].append(value)
        if logger is not None and (epoch % tc.log_every == 0 or epoch == tc.epochs):
            logger.info(
                "epoch %d/%d loss=%.4f ce=%.4f reinforce=%.4f L_a=%.1f kb_usage=%.3f epoch_s=%.3f",
                epoch,
                tc.epochs,
                *(sums[key] for key in HISTORY_KEYS[:-1]),
                history["epoch_s"][-1],
            )
    return history


def _starting_model(
    model_config: ModelConfig,
    init: TrainedModel | None,
    edge_index: torch.Tensor | None,
    edge_weight: torch.Tensor | None,
) -> MLPModel | GNNModel:
    """A copy of `init`'s model on the given graph, or a fresh one from `model_config`."""
    if init is None:
        return build_model(model_config, edge_index, edge_weight)
    model = copy.deepcopy(init.model)
    if isinstance(model, GNNModel) and edge_index is not None:
        model.edge_index = edge_index
        model.edge_weight = edge_weight
    return model


def train(
    X_l: Any,
    Y_l: Any,
    kb_pred_l: Any,
    X_u: Any,
    kb_pred_u: Any,
    w: Any,
    model_config: ModelConfig | None,
    train_config: TrainConfig,
    edge_index: Any = None,
    logger: logging.Logger | None = None,
    adaptor: bool = True,
    init: TrainedModel | None = None,
    edge_weight: Any = None,
    measured: Any = None,
    routing: RouteInputs | None = None,
) -> TrainedModel:
    """Train f_y and f_a jointly by Eq. 5 (stage A of Algorithm 1).

    Loss per step = CE(f_y(x), y) on the labelled rows (on logits, class-weighted when
    `class_weighting`) + C x REINFORCE(L_a) over the rows of X_l ∪ X_u, with ŷ = argmax
    f_y(x) (no gradient; f_y's backward pass covers only the labelled rows), δ =
    `kb_pred_*` as given and a ~ Bernoulli(f_a(x)). Advantages are per-gene shares of
    L_a, minus a per-gene batch baseline, over the batch std (`adaptor.gene_rewards`,
    `adaptor.normalise_advantages`). Both losses are means over samples and genes;
    history["l_a"] is the mean raw L_a per sample. Seeds python, numpy and torch; on CPU
    the same seeds give bit-identical results. `adaptor=False`
    trains f_y alone by CE (neural-only baseline; X_u, kb_pred_* and w are then ignored
    and may be None). `init` continues from a trained model (a copy; its model_config is
    used when `model_config` is None; Adam restarts); f_a's bias is set from w only when
    f_a was not trained before. History covers this call only. The GNN's graph is
    `edge_index` with optional `edge_weight` (one per edge), else the init model's.

    Parameters
    ----------
    X_l, Y_l, kb_pred_l : array-like, shape (m_l, n)
        Labelled inputs x (each perturbing a gene), their labels y and δ_KB(x), all in
        {-1, 0, 1}; `kb_pred_l` may be None with `adaptor=False`.
    X_u, kb_pred_u : array-like, shape (m_u, n), optional
        Unlabelled inputs and their δ_KB(x).
    w : array-like, shape (n,)
        The prior of Eq. 4 in [0, 1] (None with `adaptor=False`).
    model_config, train_config, adaptor, init
        As above.
    edge_index, edge_weight : array-like, shapes (2, E) and (E,), optional
    logger : logging.Logger, optional
        Receives a progress line every `log_every` epochs.
    measured : array-like of bool, shape (n,), optional
        False for latent genes (no labels): the cross-entropy leaves their columns out.
    routing : RouteInputs, optional
        Required for an adaptive f_a (``model_config.routing``): the path evidence of X_l
        and X_u, which f_a's route features read, and the per-input prior w(x) that f_a
        starts at (a fresh f_a) and that L_weight pulls towards.

    Returns
    -------
    TrainedModel
        In eval mode, with the per-epoch history.
    """
    if init is not None:
        model_config = model_config or init.model_config
        if model_config != init.model_config:
            raise InputError(
                "model_config differs from the init model's config", source="model config"
            )
        if edge_index is None:
            edge_index, edge_weight = init.edge_index, init.edge_weight
    if model_config is None:
        raise InputError("need a model_config (or an init model)", source="model config")
    n = model_config.n_genes
    device = resolve_device(train_config.device)
    adaptive = adaptor and model_config.routing == "adaptive"
    if adaptive != (adaptor and routing is not None):
        raise InputError(
            f"a {model_config.routing} adaptor "
            f"{'needs' if adaptive else 'takes no'} route inputs (the KB's path evidence)",
            source="adaptor",
        )
    data, w_arr = prepare_batches(
        X_l,
        Y_l,
        kb_pred_l,
        X_u,
        kb_pred_u,
        w,
        n,
        adaptor,
        train_config,
        device,
        measured,
        routing,
    )
    if edge_index is not None:
        edge_index = check_edge_index(edge_index, n)
        edge_weight = check_edge_weight(edge_weight, edge_index.shape[1])
    model = _starting_model(model_config, init, edge_index, edge_weight)
    if adaptor and (init is None or not init.adaptor):
        model.init_adaptor(w_arr, None if routing is None else routing.prior)
    model.to(device)
    seed_everything(train_config.seed)
    generator = torch.Generator(device=device).manual_seed(train_config.seed)
    optimiser = torch.optim.Adam(
        model.parameters(), lr=train_config.lr, weight_decay=train_config.weight_decay
    )

    with torch_threads(train_config.num_threads):
        history = _epochs(model, data, train_config, adaptor, optimiser, generator, logger)
    model.eval()
    return TrainedModel(
        model=model,
        model_config=model_config,
        train_config=train_config,
        adaptor=adaptor or (init is not None and init.adaptor),
        history=history,
        edge_index=edge_index,
        edge_weight=edge_weight,
    )


def _neural_answer(
    model: MLPModel | GNNModel,
    encoding: Encoding,
    labelled: torch.Tensor,
    logits_labelled: torch.Tensor | None,
    probabilities: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """ŷ = argmax f_y(x) in {-1, 0, 1} without gradient, and with `probabilities` f_y's
    class probabilities (m x n x 3, detached); the unlabelled rows are classified under
    no_grad, so f_y's backward pass covers only the labelled rows."""
    shape = (len(labelled), model.config.n_genes)
    y_hat = torch.empty(shape, dtype=torch.long, device=labelled.device)
    probs = torch.empty((*shape, 3), device=labelled.device) if probabilities else None
    parts = []
    if logits_labelled is not None:
        parts.append((labelled, logits_labelled.detach()))
    if not bool(labelled.all()):
        with torch.no_grad():
            parts.append((~labelled, model.classify(encoding.rows(~labelled)).transpose(1, 2)))
    for rows, logits in parts:
        y_hat[rows] = ternary_argmax(logits)
        if probs is not None:
            probs[rows] = torch.softmax(logits, 1).transpose(1, 2)
    return y_hat, probs


def train_neural_only(
    X: Any,
    Y: Any,
    model_config: ModelConfig,
    train_config: TrainConfig,
    edge_index: Any = None,
    edge_weight: Any = None,
    logger: logging.Logger | None = None,
    measured: Any = None,
) -> TrainedModel:
    """f_y alone, by class-weighted cross-entropy on (X, Y): the paper's "GNN only".

    Parameters
    ----------
    X : array-like, shape (m, n)
    Y : array-like, shape (m, n)
        Labels in {-1, 0, 1}.
    model_config, train_config, edge_index, edge_weight, logger, measured
        As for `train`.

    Returns
    -------
    TrainedModel
        With ``adaptor=False``.
    """
    return train(
        X,
        Y,
        None,
        None,
        None,
        None,
        model_config,
        train_config,
        edge_index=edge_index,
        edge_weight=edge_weight,
        logger=logger,
        adaptor=False,
        measured=measured,
    )


def out_of_fold_predictions(
    X: Any,
    Y: Any,
    folds: list[np.ndarray],
    model_config: ModelConfig,
    train_config: TrainConfig,
    edge_index: Any = None,
    edge_weight: Any = None,
    logger: logging.Logger | None = None,
    measured: Any = None,
    *,
    probabilities: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Out-of-fold ŷ for every row of X: the rows of each fold (row indices) are predicted
    by an f_y trained by cross-entropy alone on the other folds' rows. Every row must be in
    exactly one fold.

    Parameters
    ----------
    X : array-like, shape (m, n)
    Y : array-like, shape (m, n)
        Labels in {-1, 0, 1}.
    folds : list of numpy.ndarray
        Row indices; together every row exactly once.
    model_config, train_config, edge_index, edge_weight, logger, measured
        As for `train`.
    probabilities : bool
        Also return f_y's out-of-fold class probabilities.

    Returns
    -------
    numpy.ndarray, shape (m, n), int8
        ŷ in {-1, 0, 1}; with `probabilities`, the pair (ŷ, probabilities of shape
        (m, n, 3), float32).
    """
    X_arr = np.asarray(X)
    count = np.zeros(len(X_arr), dtype=np.int64)
    for fold in folds:
        np.add.at(count, np.asarray(fold, dtype=np.int64), 1)
    if (count != 1).any():
        row = int(np.flatnonzero(count != 1)[0])
        raise InputError(
            f"row {row} is in {count[row]} folds; every row must be in exactly one",
            source="folds",
            row=row,
        )
    Y_arr = np.asarray(Y)
    y_out = np.empty(X_arr.shape, dtype=np.int8)
    p_out = np.empty((*X_arr.shape, 3), dtype=np.float32) if probabilities else None
    for fold in folds:
        rest = np.flatnonzero(~np.isin(np.arange(len(X_arr)), fold))
        trained = train_neural_only(
            X_arr[rest],
            Y_arr[rest],
            model_config,
            train_config,
            edge_index,
            edge_weight,
            logger,
            measured=measured,
        )
        predicted = predict(trained, X_arr[fold], probabilities=probabilities)
        y_out[fold] = predicted["y_hat"]
        if p_out is not None:
            p_out[fold] = predicted["p_y"]
    return y_out if p_out is None else (y_out, p_out)
