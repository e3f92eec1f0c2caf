"""Synthetic refinement benchmark (section 4.2): F1 of refined GRNs against a known truth."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
