"""Knowledge refinement (section 3.4, Eq. 6)."""

from aligned_kedro.core.knowledge.refinement.solver import (
    RefineOptions,
    RefineResult,
    kept_by_support,
    refine,
)

__all__ = ["RefineOptions", "RefineResult", "kept_by_support", "refine"]
