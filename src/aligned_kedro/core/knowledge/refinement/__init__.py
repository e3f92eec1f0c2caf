"""Knowledge refinement (section 3.4, Eq. 6): the relaxation, the data term on regulator
rows, the proximal-gradient solver, and the refined edge table."""

from aligned_kedro.core.knowledge.refinement.edges import REFINED_EDGE_COLUMNS, kept_by_support
from aligned_kedro.core.knowledge.refinement.problem import Evaluation, RefineProblem
from aligned_kedro.core.knowledge.refinement.solver import RefineOptions, RefineResult, refine

__all__ = [
    "REFINED_EDGE_COLUMNS",
    "Evaluation",
    "RefineOptions",
    "RefineProblem",
    "RefineResult",
    "kept_by_support",
    "refine",
]
