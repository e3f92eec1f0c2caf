"""Framework-free ALIGNED core, by the paper's sections.

- `aligned_kedro.core.data`: labels, cells, design, splits, validation, GRN harmonisation;
- `aligned_kedro.core.knowledge`: the KB, its closure and deduction, refinement;
- `aligned_kedro.core.learning`: f_y, the adaptor f_a, training, baselines;
- `aligned_kedro.core.evaluation`: metrics, analyses, plots, report, refinement benchmark.

Everything here takes arrays and tables and knows nothing of Kedro, so a notebook can
use it directly::

    from aligned_kedro.core import compile_kb, deduce, consistency_scores
"""

from aligned_kedro.core.data import (
    cell_conditions,
    combo_split,
    differential_expression,
    fixed_split,
    gene_universe,
    group_folds,
    harmonise_edges,
    harmonise_gene_graph,
    per_cell_labels,
    perturbation_matrix,
    pseudobulk,
    random_split,
    read_edge_table,
    resolve_perturbations,
    select_conditions,
    ternary_labels,
    unlabelled_inputs,
    unseen_perturbation_split,
)
from aligned_kedro.core.errors import InputError
from aligned_kedro.core.evaluation import (
    aggregate_seeds,
    balanced_f1,
    consistency_scores,
    data_consistency,
    knowledge_consistency,
    macro_f1,
    noise_sweep,
    summarise_sweep,
)
from aligned_kedro.core.knowledge import (
    KnowledgeBase,
    RefineOptions,
    RefineResult,
    closure,
    closure_rows,
    compile_kb,
    deduce,
    inconsistency,
    inconsistency_report,
    kb_statistics,
    refine,
)
from aligned_kedro.core.learning import (
    LinearBaseline,
    ModelConfig,
    TrainConfig,
    TrainedModel,
    balanced_routing,
    build_model,
    combine,
    from_state,
    out_of_fold_predictions,
    predict,
    to_state,
    train,
    train_neural_only,
    weight_vector,
)

__all__ = [
    "InputError",
    "KnowledgeBase",
    "LinearBaseline",
    "ModelConfig",
    "RefineOptions",
    "RefineResult",
    "TrainConfig",
    "TrainedModel",
    "aggregate_seeds",
    "balanced_f1",
    "balanced_routing",
    "build_model",
    "cell_conditions",
    "closure",
    "closure_rows",
    "combine",
    "combo_split",
    "compile_kb",
    "consistency_scores",
    "data_consistency",
    "deduce",
    "differential_expression",
    "fixed_split",
    "from_state",
    "gene_universe",
    "group_folds",
    "harmonise_edges",
    "harmonise_gene_graph",
    "inconsistency",
    "inconsistency_report",
    "kb_statistics",
    "knowledge_consistency",
    "macro_f1",
    "noise_sweep",
    "out_of_fold_predictions",
    "per_cell_labels",
    "perturbation_matrix",
    "predict",
    "pseudobulk",
    "random_split",
    "read_edge_table",
    "refine",
    "resolve_perturbations",
    "select_conditions",
    "summarise_sweep",
    "ternary_labels",
    "to_state",
    "train",
    "train_neural_only",
    "unlabelled_inputs",
    "unseen_perturbation_split",
    "weight_vector",
]
