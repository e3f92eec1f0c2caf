"""Algorithm 1: rounds of align (stage A, Eq. 5) and refine (stage R, Eq. 6), the adaptor's
prior w (Eq. 4) and the scores of every stage (Eq. 3).

A notebook runs A-R-A-R without Kedro::

    data = RoundData(X, Y, kb_pred, X_u, train, test, genes=genes)
    settings = RoundSettings.from_params(training=..., knowledge_base=..., refinement=...,
                                         k=4, seed=0, gamma=5.0, n_genes=len(genes))
    w = adaptor_prior(data, kb, settings).w
    first = align_round(1, data, kb, w, settings)
    refined = refine_round(1, data, kb, first.model, settings)
    second = align_round(2, data, refined.kb, w, settings, previous=first.model)
    refine_round(2, data, refined.kb, second.model, settings)
"""

from __future__ import annotations

from aligned_kedro.core.rounds.data import PRIORS, RoundData, RoundSettings
from aligned_kedro.core.rounds.prior import Prior, adaptor_prior, kb_degree
from aligned_kedro.core.rounds.routing import route_evidence, routing_baselines, routing_scores
from aligned_kedro.core.rounds.scoring import (
    BASELINES,
    DIAGNOSTICS,
    round_namespace,
    score_stage,
    stage_name,
    stage_names,
)
from aligned_kedro.core.rounds.stages import (
    AlignResult,
    RefineRoundResult,
    align_round,
    refine_round,
)

__all__ = [
    "BASELINES",
    "DIAGNOSTICS",
    "PRIORS",
    "AlignResult",
    "Prior",
    "RefineRoundResult",
    "RoundData",
    "RoundSettings",
    "adaptor_prior",
    "align_round",
    "kb_degree",
    "refine_round",
    "round_namespace",
    "route_evidence",
    "routing_baselines",
    "routing_scores",
    "score_stage",
    "stage_name",
    "stage_names",
]
