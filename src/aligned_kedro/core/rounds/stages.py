"""The two stages of a round of Algorithm 1: align (A, Eq. 5) and refine (R, Eq. 6)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from aligned_kedro.core.errors import InputError
from aligned_kedro.core.evaluation.refinement_benchmark import corrupt
from aligned_kedro.core.knowledge.kb import KnowledgeBase
from aligned_kedro.core.knowledge.refinement import RefineResult, refine
from aligned_kedro.core.learning.routing import PathEvidence, RouteInputs
from aligned_kedro.core.learning.training import TrainedModel, predict, train
from aligned_kedro.core.rounds.data import RoundData, RoundSettings
from aligned_kedro.core.rounds.routing import route_evidence, routing_scores
from aligned_kedro.core.rounds.scoring import Metrics, score_stage, stage_name


@dataclass(frozen=True, eq=False)
class AlignResult:
    """Stage A of a round: the trained model, its outputs on every labelled row and the
    stage's metrics."""

    model: TrainedModel
    outputs: dict[str, np.ndarray]
    metrics: Metrics


def align_round(
    round_number: int,
    data: RoundData,
    kb: KnowledgeBase,
    w: np.ndarray,
    settings: RoundSettings,
    *,
    previous: TrainedModel | None = None,
    edge_index: Any = None,
    edge_weight: Any = None,
    route: dict[str, torch.Tensor] | None = None,
    logger: logging.Logger | None = None,
) -> AlignResult:
    """Stage A of round r (Eq. 5). Round 1 trains f_y and f_a on D_l ∪ X_u (Algorithm 1
    line 2); round r > 1 updates the `previous` model on D_l ∪ ⟨X_u, ȳ⟩ with ȳ formed
    against the round's KB (lines 4-8). ``settings.random_kb`` (ablation, paper table 2)
    aligns against a copy of the KB with every edge moved to a random pair.

    Parameters
    ----------
    round_number : int
        r >= 1; round 1 takes no `previous` model, every later round takes one.
    data : RoundData
    kb : KnowledgeBase
        The round's KB: the original in round 1, round r-1's refined KB after.
    w : numpy.ndarray, shape (n,)
        The adaptor's prior (`adaptor_prior`).
    settings : RoundSettings
    previous : TrainedModel, optional
        Round r-1's model.
    edge_index, edge_weight : optional
        The GNN's graph, (2, E) and (E,); a `previous` model keeps its own.
    route : dict, optional
        The per-input prior of an adaptive f_a (`Prior.route`).
    logger : logging.Logger, optional

    Returns
    -------
    AlignResult
        ``model``; ``outputs`` y_hat, a, p_a and y_bar on every row of ``data.X``, each
        (m, n); ``metrics`` named ``round_<r>.align.<score>`` (`score_stage` and
        `routing_scores` on the test rows, the current KB being the round's) and
        ``.train_<history>``.
    """
    if (round_number == 1) != (previous is None):
        raise InputError(
            f"round {round_number} {'takes no' if round_number == 1 else 'needs the'} "
            "previous round's model (Algorithm 1: round 1 starts fresh, later rounds continue)",
            source="align_round",
        )
    stage = stage_name("align", round_number)
    if settings.random_kb:
        kb = corrupt(kb, 1.0, settings.seed)
    x_train, y_train, _ = data.part("train")
    kb_train = settings.deduce(kb, x_train)
    kb_u = settings.deduce(kb, data.X_u)
    evidence, evidence_u = (
        route_evidence(settings, kb, data.X),
        route_evidence(settings, kb, data.X_u),
    )
    routing = None
    if evidence is not None:
        train_rows = evidence.rows(data.train)
        routing = RouteInputs(
            train_rows if previous is None else PathEvidence.stack([train_rows, evidence_u]),
            evidence_u if previous is None else None,
            route,
        )
    if previous is None:
        trained = train(
            x_train,
            y_train,
            kb_train,
            data.X_u,
            kb_u,
            w,
            settings.model,
            settings.training,
            edge_index=edge_index,
            edge_weight=edge_weight,
            logger=logger,
            measured=data.measured,
            routing=routing,
        )
    else:
        y_bar_u = predict(previous, data.X_u, kb_u, evidence_u)["y_bar"]
        trained = train(
            np.vstack([x_train, data.X_u]),
            np.vstack([y_train, y_bar_u]),
            np.vstack([kb_train, kb_u]),
            None,
            None,
            w,
            None,
            settings.training,
            logger=logger,
            init=previous,
            measured=data.measured,
            routing=routing,
        )
    deduced = settings.deduce(kb, data.X)
    outputs = predict(trained, data.X, deduced, evidence)
    test = {name: values[data.test] for name, values in outputs.items()}
    metrics = score_stage(stage, data, test, settings.gamma, current_kb=deduced[data.test])
    metrics.update(routing_scores(stage, data, test, w, settings.gamma, deduced[data.test]))
    metrics.update({f"{stage}.train_{name}": values for name, values in trained.history.items()})
    _log(logger, stage, metrics)
    return AlignResult(model=trained, outputs=outputs, metrics=metrics)


@dataclass(frozen=True, eq=False)
class RefineRoundResult:
    """Stage R of a round: the refinement (refined KB, edge table, trace) and the stage's
    metrics."""

    refined: RefineResult
    metrics: Metrics

    @property
    def kb(self) -> KnowledgeBase:
        """The refined KB, the next round's KB."""
        return self.refined.kb


def refine_round(
    round_number: int,
    data: RoundData,
    kb: KnowledgeBase,
    model: TrainedModel,
    settings: RoundSettings,
    *,
    gene_names: Sequence[str] | None = None,
    w: np.ndarray | None = None,
    logger: logging.Logger | None = None,
) -> RefineRoundResult:
    """Stage R of round r: fit the round's KB (Eq. 6, Algorithm 1 line 9) to ⟨X_u, ȳ⟩,
    ȳ formed by the round's model against that KB (predicted evidence), and to the
    training split's measured labels (observed evidence), as ``settings.refine.evidence``
    chooses; then score the model against the refined KB.

    Parameters
    ----------
    round_number : int
    data : RoundData
    kb : KnowledgeBase
        The round's KB (the one its align stage used, before any ``random_kb`` rewiring).
    model : TrainedModel
        The round's aligned model.
    settings : RoundSettings
    gene_names : sequence of str, optional
        Names of ``data.genes`` for the unlabelled inputs in the edge table's drivers.
    w : numpy.ndarray, shape (n,), optional
        The adaptor's prior: with it, the metrics include `routing_scores`.
    logger : logging.Logger, optional

    Returns
    -------
    RefineRoundResult
        ``refined`` (`RefineResult`: the refined KB, every edge with its status and
        support, the trace) and ``metrics`` named ``round_<r>.refine.<name>``: scores on
        the test rows (`score_stage`, `routing_scores`), the edge counts, iterations,
        seconds and loss.
    """
    stage = stage_name("refine", round_number)
    x_train, y_train, _ = data.part("train")
    evidence = route_evidence(settings, kb, data.X_u)
    y_bar = predict(model, data.X_u, settings.deduce(kb, data.X_u), evidence)["y_bar"]
    genes = np.asarray(data.genes if gene_names is None else gene_names, dtype=object)
    result = refine(
        kb,
        np.vstack([data.X_u, x_train]),
        np.vstack([y_bar, y_train]),
        settings.refine,
        k=settings.k,
        seed=settings.seed,
        observed=np.arange(len(data.X_u) + len(x_train)) >= len(data.X_u),
        measured=data.measured,
        input_names=[
            *(f"X_u {'+'.join(genes[np.flatnonzero(x)])}" for x in data.X_u),
            *(str(data.rows[i]) for i in data.train),
        ],
        logger=logger,
    )
    x_test, _, _ = data.part("test")
    deduced = settings.deduce(result.kb, x_test)
    outputs = predict(model, x_test, deduced, route_evidence(settings, result.kb, x_test))
    metrics = score_stage(stage, data, outputs, settings.gamma, current_kb=deduced)
    if w is not None:
        metrics.update(routing_scores(stage, data, outputs, w, settings.gamma, deduced))
    metrics.update(
        {
            f"{stage}.{name}": float(v)
            for name, v in result.summary.items()
            if isinstance(v, int | float | np.number)
        }
    )
    metrics.update(
        {
            f"{stage}.iterations": result.iterations,
            f"{stage}.seconds": result.seconds,
            f"{stage}.loss": [float(v) for v in result.loss],
        }
    )
    if logger is not None:
        logger.info("%s: %s", stage, result.summary)
    return RefineRoundResult(refined=result, metrics=metrics)


def _log(logger: logging.Logger | None, stage: str, metrics: Metrics) -> None:
    if logger is not None:
        shown = {m: round(v, 4) for m, v in metrics.items() if not isinstance(v, list)}
        logger.info("%s: %s", stage, shown)
