"""Framework-free ALIGNED core: knowledge base, closure, labels, splits and metrics.

Everything here takes arrays and tables and knows nothing of Kedro, so a notebook can
use it directly::

    from aligned_kedro.core import compile_kb, deduce, consistency_scores
"""

from aligned_kedro.core.closure import (
    closure,
    closure_rows,
    deduce,
    inconsistency,
    inconsistency_report,
)
from aligned_kedro.core.errors import InputError
from aligned_kedro.core.harmonise import gene_universe, harmonise_edges, read_edge_table
from aligned_kedro.core.kb import KnowledgeBase, compile_kb, kb_statistics
from aligned_kedro.core.labels import differential_expression, perturbation_matrix, ternary_labels
from aligned_kedro.core.metrics import (
    aggregate_seeds,
    balanced_f1,
    consistency_scores,
    data_consistency,
    knowledge_consistency,
    macro_f1,
)
from aligned_kedro.core.splits import random_split, unseen_perturbation_split

__all__ = [
    "InputError",
    "KnowledgeBase",
    "aggregate_seeds",
    "balanced_f1",
    "closure",
    "closure_rows",
    "compile_kb",
    "consistency_scores",
    "data_consistency",
    "deduce",
    "differential_expression",
    "gene_universe",
    "harmonise_edges",
    "inconsistency",
    "inconsistency_report",
    "kb_statistics",
    "knowledge_consistency",
    "macro_f1",
    "perturbation_matrix",
    "random_split",
    "read_edge_table",
    "ternary_labels",
    "unseen_perturbation_split",
]
