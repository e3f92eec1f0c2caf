"""Interaction recovery (appendix F.3): remove KB edges, run ALIGNED, count them back."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
