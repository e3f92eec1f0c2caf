"""Neural predictors, the adaptor's weights, the alignment stage "A" and its baselines."""

from .pipeline import align_stage, create_pipeline

__all__ = ["align_stage", "create_pipeline"]
