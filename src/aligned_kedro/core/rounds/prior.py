"""The adaptor's prior w of Eq. 4, by the kind a run chooses."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from aligned_kedro.core.data.splits import group_folds, perturbation_groups
from aligned_kedro.core.evaluation.metrics import consistency_scores, macro_f1
from aligned_kedro.core.knowledge.kb import KnowledgeBase
from aligned_kedro.core.learning.adaptor import (
    adaptor_bias,
    balanced_routing,
    combine,
    route_switch_share,
    weight_vector,
)
from aligned_kedro.core.learning.routing import (
    fit_router,
    path_evidence,
    prior_head,
    route_features,
)
from aligned_kedro.core.learning.training import out_of_fold_predictions
from aligned_kedro.core.rounds.data import RoundData, RoundSettings


@dataclass(frozen=True, eq=False)
class Prior:
    """The adaptor's prior w of Eq. 4, the KB degree it may use, and how it was made; for
    an adaptive f_a with ``route_prior: fitted``, the per-input prior's `RouteHead` state
    (`route`), else None."""

    w: np.ndarray
    kb_degree: np.ndarray
    stats: dict[str, float]
    route: dict[str, torch.Tensor] | None = None


def kb_degree(kb: KnowledgeBase) -> np.ndarray:
    """Edges of the KB's table at each gene, as regulator or target; shape (n,), float64."""
    edges = kb.edges()
    ends = np.concatenate([edges["regulator"].map(kb.index), edges["target"].map(kb.index)])
    return np.bincount(ends.astype(np.intp), minlength=kb.n_genes).astype(np.float64)


def adaptor_prior(
    data: RoundData,
    kb: KnowledgeBase,
    settings: RoundSettings,
    *,
    go_count: np.ndarray | None = None,
    edge_index: Any = None,
    edge_weight: Any = None,
    logger: logging.Logger | None = None,
) -> Prior:
    """The prior w of Eq. 4 from the TRAINING split only, by ``settings.prior``:
    ``balanced`` routes each gene to f_y or δ to maximise F1_balance there, f_y predicted
    out of fold (with fewer than 2 groups of training conditions sharing perturbed genes
    there is no out-of-fold prediction: it falls back to ``e3``, warns and records
    ``prior_fallback_e3`` = 1); ``e3`` (appendix E.3) and ``agreement`` (its first term) by
    `weight_vector`; ``constant`` is 0.5; ``random`` is uniform, seeded. Latent genes
    (``data.measured`` False) have no labels to learn from: w = 1 routes them to δ, and
    the routing and the stats read the measured genes only.

    Parameters
    ----------
    data : RoundData
    kb : KnowledgeBase
        The original KB, n genes.
    settings : RoundSettings
    go_count : numpy.ndarray, shape (n,), optional
        GO annotations per gene (``e3``).
    edge_index, edge_weight : optional
        The GNN's graph, (2, E) and (E,), for the out-of-fold f_y.
    logger : logging.Logger, optional

    Returns
    -------
    Prior
        ``w`` (n,), ``kb_degree`` (n,) and ``stats`` (w's mean, sd and share above 0.5;
        for ``balanced``, the folds and the training score, or the fallback).
    """
    X, Y, kb_pred = data.part("train")
    degree = kb_degree(kb)
    n = data.n_genes
    stats: dict[str, float] = {}
    prior = settings.prior
    if prior == "balanced":
        n_groups = len(perturbation_groups(_training_rows(data)))
        stats["prior_fallback_e3"] = float(n_groups < 2)
        if n_groups < 2:
            prior = "e3"
            if logger is not None:
                logger.warning(
                    "training.adaptor.weights is balanced but the training split has %d "
                    "group(s) of conditions sharing perturbed genes: no out-of-fold f_y, so "
                    "the prior falls back to e3 (appendix E.3)",
                    n_groups,
                )
    fit_route = settings.model.routing == "adaptive" and settings.route_prior == "fitted"
    if fit_route and len(perturbation_groups(_training_rows(data))) < 2:
        fit_route = False
        if logger is not None:
            logger.warning(
                "no out-of-fold f_y on a training split of one group of conditions: the "
                "adaptive adaptor starts at the per-gene prior w"
            )
    if prior == "balanced" or fit_route:
        y_out_of_fold, p_out_of_fold, folds = _out_of_fold(
            data, settings, edge_index, edge_weight, logger, probabilities=fit_route
        )
        stats.update(folds)
    if prior == "balanced":
        routed, stats["w_balanced_f1_train"] = balanced_routing(
            data.scored(Y), data.scored(y_out_of_fold), data.scored(kb_pred), settings.gamma
        )
        w = np.ones(n)
        w[data.measured] = routed
    elif prior == "constant":
        w = np.full(n, 0.5)
    elif prior == "random":
        w = np.random.default_rng(settings.seed).uniform(size=n)
    else:
        w = weight_vector(X, Y, kb_pred, degree, go_count, terms=prior)
    w = np.where(data.measured, w, 1.0)
    scored = w[data.measured]
    stats.update(
        {
            "w_mean": float(scored.mean()),
            "w_sd": float(scored.std()),
            "w_above_half": float((scored > 0.5).mean()),
        }
    )
    route = None
    if fit_route:
        route, route_stats = _route_prior(data, kb, settings, w, y_out_of_fold, p_out_of_fold)
        stats.update(route_stats)
    if logger is not None:
        logger.info("adaptor weights (%s): %s", prior, stats)
    return Prior(w=w, kb_degree=degree, stats=stats, route=route)


def _route_prior(
    data: RoundData,
    kb: KnowledgeBase,
    settings: RoundSettings,
    w: np.ndarray,
    y_out_of_fold: np.ndarray,
    p_out_of_fold: np.ndarray,
) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
    """The per-input prior w(x) fitted on the training split (`fit_router`), and its
    routing's F1_balance and switch share there (a = 1 where w(x) > 0.5)."""
    X, Y, kb_pred = data.part("train")
    evidence = path_evidence(kb, X, settings.k)
    bias = adaptor_bias(w)
    route = fit_router(
        Y,
        y_out_of_fold,
        p_out_of_fold,
        kb_pred,
        evidence,
        bias,
        hidden=settings.model.route_hidden,
        scope=settings.model.route_scope,
        steps=settings.route_steps,
        lr=settings.route_lr,
        gamma=settings.gamma,
        seed=settings.seed,
        measured=data.measured,
    )
    with torch.no_grad():
        features = route_features(
            torch.as_tensor(kb_pred),
            torch.as_tensor(p_out_of_fold),
            evidence.tensors(torch.device("cpu")),
        )
        head = prior_head(route, torch.device("cpu"))
        p_kb = torch.sigmoid(torch.as_tensor(bias, dtype=torch.float32) + head(features))
    a = data.scored((p_kb > 0.5).numpy().astype(np.int8))
    y, y_hat, delta = (data.scored(v) for v in (Y, y_out_of_fold, kb_pred))
    score = consistency_scores(y, combine(a, y_hat, delta), delta, settings.gamma)
    return route, {
        "route_prior.balanced_f1_train": score["balanced_f1"],
        "route_prior.switch_share_train": route_switch_share(a, delta),
        "route_prior.kb_usage_train": float(a.mean()),
    }


def _training_rows(data: RoundData) -> dict[str, list[str]]:
    """Per training row (by position), its perturbed genes."""
    X = data.part("train")[0]
    genes = np.asarray(data.genes, dtype=object)
    return {str(i): list(genes[np.flatnonzero(X[i])]) for i in range(len(X))}


def _out_of_fold(
    data: RoundData,
    settings: RoundSettings,
    edge_index: Any,
    edge_weight: Any,
    logger: logging.Logger | None,
    *,
    probabilities: bool = False,
) -> tuple[np.ndarray, np.ndarray | None, dict[str, float]]:
    """f_y's out-of-fold predictions of the training rows (and, with `probabilities`, its
    class probabilities): folds of rows that share no perturbed gene (fewer, with a
    warning, when the split has fewer groups), one f_y each."""
    X, Y, _ = data.part("train")
    rows = _training_rows(data)
    n_groups = len(perturbation_groups(rows))
    n_folds = min(settings.folds, n_groups)
    if n_folds < settings.folds and logger is not None:
        logger.warning(
            "training.adaptor.folds is %d but the training split has only %d group(s) of "
            "conditions sharing perturbed genes: using %d folds",
            settings.folds,
            n_groups,
            n_folds,
        )
    folds = group_folds(rows, n_folds, settings.seed, source="conditions_split (train)")
    start = time.perf_counter()
    predicted = out_of_fold_predictions(
        X,
        Y,
        [np.array(sorted(int(r) for r in fold)) for fold in folds],
        settings.model,
        settings.training,
        edge_index=edge_index,
        edge_weight=edge_weight,
        measured=data.measured,
        probabilities=probabilities,
    )
    y_out_of_fold, p_out_of_fold = predicted if probabilities else (predicted, None)
    stats = {
        "out_of_fold.folds": float(n_folds),
        "out_of_fold.folds_requested": float(settings.folds),
        "out_of_fold.data_f1": macro_f1(data.scored(Y), data.scored(y_out_of_fold))["f1"],
        "out_of_fold.seconds": time.perf_counter() - start,
    }
    return y_out_of_fold, p_out_of_fold, stats
