"""Algorithm 1: rounds of align (Eq. 5) and refine (Eq. 6), namespaced ``round_<r>``."""

from .pipeline import create_pipeline, round_pipeline

__all__ = ["create_pipeline", "round_pipeline"]
