"""Data (paper section 4 set-up): labels from expression, cells, design, splits,
validation and GRN harmonisation."""

from aligned_kedro.core.data.cells import (
    cell_conditions,
    escaped_cells,
    per_cell_labels,
    pseudobulk,
)
from aligned_kedro.core.data.design import select_conditions, unlabelled_inputs
from aligned_kedro.core.data.harmonise import (
    gene_universe,
    harmonise_edges,
    harmonise_gene_graph,
    read_edge_table,
    resolve_perturbations,
)
from aligned_kedro.core.data.labels import (
    differential_expression,
    perturbation_matrix,
    ternary_labels,
)
from aligned_kedro.core.data.splits import (
    combo_split,
    fixed_split,
    group_folds,
    random_split,
    split_conditions,
    strategy_support,
    unseen_perturbation_split,
)

__all__ = [
    "cell_conditions",
    "combo_split",
    "differential_expression",
    "escaped_cells",
    "fixed_split",
    "gene_universe",
    "group_folds",
    "harmonise_edges",
    "harmonise_gene_graph",
    "per_cell_labels",
    "perturbation_matrix",
    "pseudobulk",
    "random_split",
    "read_edge_table",
    "resolve_perturbations",
    "select_conditions",
    "split_conditions",
    "strategy_support",
    "ternary_labels",
    "unlabelled_inputs",
    "unseen_perturbation_split",
]
