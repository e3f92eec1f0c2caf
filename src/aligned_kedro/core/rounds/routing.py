"""What the adaptor's routing adds, measured per stage and against two reference
routings on the same split: static routing (w ≥ 0.5 → δ_KB, the same f_y) and the
oracle (the best routing chosen with the test labels, an upper bound, never a method).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from aligned_kedro.core.evaluation.metrics import consistency_scores
from aligned_kedro.core.knowledge.kb import KnowledgeBase
from aligned_kedro.core.learning.adaptor import (
    combine,
    kb_usage_by_input,
    oracle_routing,
    route_switch_share,
)
from aligned_kedro.core.learning.routing import PathEvidence, path_evidence
from aligned_kedro.core.rounds.data import RoundData, RoundSettings
from aligned_kedro.core.rounds.scoring import Metrics, score_stage, stage_name

USAGE_QUANTILES = {"min": 0.0, "median": 0.5, "max": 1.0}


def route_evidence(
    settings: RoundSettings, kb: KnowledgeBase, X: np.ndarray
) -> PathEvidence | None:
    """The KB's path evidence for X that an adaptive f_a reads; None for a static one."""
    if settings.model.routing != "adaptive":
        return None
    return path_evidence(kb, X, settings.k)


def static_routing(w: np.ndarray, y_hat: np.ndarray, kb_pred: np.ndarray) -> dict[str, np.ndarray]:
    """ȳ from the prior alone: δ_KB for the genes with w ≥ 0.5, ŷ for the others.

    Parameters
    ----------
    w : numpy.ndarray, shape (n,)
    y_hat, kb_pred : numpy.ndarray, shape (m, n)

    Returns
    -------
    dict
        ``a`` (int8) and ``y_bar``, each (m, n).
    """
    a = np.broadcast_to(np.asarray(w) >= 0.5, np.shape(kb_pred)).astype(np.int8)
    return {"a": a, "y_bar": combine(a, y_hat, kb_pred)}


def routing_scores(
    stage: str,
    data: RoundData,
    outputs: Mapping[str, np.ndarray],
    w: np.ndarray,
    gamma: float,
    current_kb: np.ndarray,
) -> Metrics:
    """How a stage routes on the test rows, over the measured genes.

    ``route_switch_share`` (genes with a KB answer in at least two test inputs whose
    route differs between them), ``kb_usage_input_<min|median|max|sd>`` (the
    distribution over test inputs of the share routed to the KB), ``static_balanced_f1``
    (static routing with this stage's ŷ and δ), ``static_gain`` (the stage's
    F1_balance minus that) and ``oracle_balanced_f1`` (the oracle's, same ŷ and δ).
    F1_balance is against the ORIGINAL KB, as ``balanced_f1`` is.

    Parameters
    ----------
    stage : str
        The prefix of every metric.
    data : RoundData
    outputs : mapping
        ``y_hat``, ``a`` and ``y_bar`` of the test rows, each (m_test, n).
    w : numpy.ndarray, shape (n,)
        The adaptor's prior.
    gamma : float
    current_kb : numpy.ndarray, shape (m_test, n)
        δ of the stage's own KB, which ȳ takes where a = 1.

    Returns
    -------
    dict
        ``<stage>.<name>`` to value; empty without test rows.
    """
    if not len(data.test):
        return {}
    _, y, kb_pred = (data.scored(values) for values in data.part("test"))
    a, y_hat, current = (
        data.scored(np.asarray(v)) for v in (outputs["a"], outputs["y_hat"], current_kb)
    )
    static = static_routing(np.asarray(w)[data.measured], y_hat, current)
    static_f1 = consistency_scores(y, static["y_bar"], kb_pred, gamma)["balanced_f1"]
    stage_f1 = consistency_scores(y, data.scored(outputs["y_bar"]), kb_pred, gamma)["balanced_f1"]
    usage = kb_usage_by_input(a)
    scores = {
        "route_switch_share": route_switch_share(a, current),
        **{
            f"kb_usage_input_{name}": float(np.quantile(usage, q))
            for name, q in USAGE_QUANTILES.items()
        },
        "kb_usage_input_sd": float(usage.std()),
        "static_balanced_f1": static_f1,
        "static_gain": stage_f1 - static_f1,
        "oracle_balanced_f1": _oracle_f1(y, y_hat, current, kb_pred, gamma),
    }
    return {f"{stage}.{name}": value for name, value in scores.items()}


def _oracle_f1(
    y: np.ndarray, y_hat: np.ndarray, current: np.ndarray, kb_pred: np.ndarray, gamma: float
) -> float:
    """F1_balance against the original KB of the oracle routing between ŷ and `current`."""
    a, _ = oracle_routing(y, y_hat, current, gamma)
    return consistency_scores(y, combine(a, y_hat, current), kb_pred, gamma)["balanced_f1"]


def routing_baselines(data: RoundData, y_hat: np.ndarray, w: np.ndarray, gamma: float) -> Metrics:
    """``baseline.static_routing`` (w ≥ 0.5 → δ_KB of the original KB, f_y's ŷ otherwise)
    and ``diagnostic.oracle_routing`` (the oracle between the same ŷ and δ: an upper
    bound, chosen with the test labels), scored like every stage.

    Parameters
    ----------
    data : RoundData
    y_hat : numpy.ndarray, shape (m_test, n)
        ŷ of the test rows (the neural-only f_y: the model round 1 starts from).
    w : numpy.ndarray, shape (n,)
    gamma : float

    Returns
    -------
    dict
        ``baseline.static_routing.<score>`` and ``diagnostic.oracle_routing.<score>``.
    """
    if not len(data.test):
        return {}
    _, y, kb_pred = data.part("test")
    oracle_a, _ = oracle_routing(data.scored(y), data.scored(y_hat), data.scored(kb_pred), gamma)
    a = np.zeros(kb_pred.shape, dtype=np.int8)
    a[:, data.measured] = oracle_a
    oracle = {"a": a, "y_bar": combine(a, y_hat, kb_pred)}
    static = static_routing(w, y_hat, kb_pred)
    metrics = {}
    for name, outputs in (("static_routing", static), ("oracle_routing", oracle)):
        stage = stage_name(name)
        metrics.update(score_stage(stage, data, outputs, gamma))
        metrics[f"{stage}.route_switch_share"] = route_switch_share(
            data.scored(outputs["a"]), data.scored(kb_pred)
        )
    return metrics
