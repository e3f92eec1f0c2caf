"""The knowledge base (section 2.2, appendix B): compiled signed GRN, closure (Eq. 1),
deduction and inconsistency (Eq. 2), and knowledge refinement (section 3.4, Eq. 6)."""

from aligned_kedro.core.knowledge.abstention import Abstention, changed_shares, share_summary
from aligned_kedro.core.knowledge.deduction import closure, closure_rows, deduce, kb_statistics
from aligned_kedro.core.knowledge.disagreement import (
    inconsistency,
    inconsistency_report,
    sign_agreement,
)
from aligned_kedro.core.knowledge.kb import KnowledgeBase, compile_kb
from aligned_kedro.core.knowledge.refinement import RefineOptions, RefineResult, refine

__all__ = [
    "Abstention",
    "KnowledgeBase",
    "RefineOptions",
    "RefineResult",
    "changed_shares",
    "closure",
    "closure_rows",
    "compile_kb",
    "deduce",
    "inconsistency",
    "inconsistency_report",
    "kb_statistics",
    "refine",
    "share_summary",
    "sign_agreement",
]
