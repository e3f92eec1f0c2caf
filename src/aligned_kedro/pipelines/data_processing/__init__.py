"""Raw expression, design and GRN tables -> labelled conditions, splits and X_u."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
