"""Evaluation (section 3.1, section 4, appendix F): consistency metrics, analyses,
figures, the run report and the refinement benchmark."""

from aligned_kedro.core.evaluation.metrics import (
    aggregate_seeds,
    balanced_f1,
    consistency_scores,
    data_consistency,
    knowledge_consistency,
    macro_f1,
)
from aligned_kedro.core.evaluation.refinement_benchmark import noise_sweep, summarise_sweep

__all__ = [
    "aggregate_seeds",
    "balanced_f1",
    "consistency_scores",
    "data_consistency",
    "knowledge_consistency",
    "macro_f1",
    "noise_sweep",
    "summarise_sweep",
]
