"""Knowledge refinement (Eq. 6) and the A-R rounds of Algorithm 1."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
