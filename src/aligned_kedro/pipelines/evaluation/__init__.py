"""Score what the run produced and collect it in one summary table."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
