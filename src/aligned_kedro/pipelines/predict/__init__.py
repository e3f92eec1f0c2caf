"""Predict and explain perturbations nobody measured with the final stage's model."""

from .pipeline import bundle_pipeline, create_pipeline

__all__ = ["bundle_pipeline", "create_pipeline"]
