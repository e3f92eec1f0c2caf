from kedro.pipeline import Node, Pipeline, node, pipeline

from . import nodes

CELL_INPUTS = {
    "raw_expression": "pseudobulk_expression",
    "raw_design": "pseudobulk_design_table",
    "raw_genes": "cell_genes_table",
}


PER_CELL_REPLACES = (
    "expression_values",
    "differential_expression",
    "label_conditions",
    "split_conditions",
    "dataset_statistics",
)


def cells_pipeline(per_cell: bool = False) -> Pipeline:
    """``input: anndata``: cells of ``raw_cells`` pooled into the samples, design and gene
    table that the rest of the job reads where bulk data give ``raw_expression``,
    ``raw_design`` and ``raw_genes`` (see `CELL_INPUTS`); with ``per_cell`` also the
    per-cell labels that `per_cell_pipeline` reads."""
    if per_cell:
        return pipeline(
            [
                node(
                    nodes.read_cells_per_cell,
                    ["raw_cells", "params:data_processing.cells", "params:seed"],
                    [*CELL_INPUTS.values(), "cells_report", "cell_labels_table", "cell_rows_table"],
                    name="read_cells",
                )
            ]
        )
    return pipeline(
        [
            node(
                nodes.read_cells,
                ["raw_cells", "params:data_processing.cells", "params:seed"],
                [*CELL_INPUTS.values(), "cells_report"],
                name="read_cells",
            )
        ]
    )


def _split_node(*extra: str) -> Node:
    """`nodes.split_conditions`; per-cell jobs add ``label_rows_table``."""
    inputs = ["perturbations_table", "universe_table", "params:data_processing.split"]
    return node(
        nodes.split_conditions,
        [*inputs, "params:seed", *extra],
        "proposed_split",
        name="split_conditions",
    )


def _statistics_node(*extra: str) -> Node:
    """`nodes.dataset_statistics`; per-cell jobs add ``label_rows_table``."""
    inputs = ["labels_table", "universe_table", "proposed_split", "unlabelled_table"]
    return node(
        nodes.dataset_statistics,
        [*inputs, "conditions_report", *extra],
        "dataset_metrics",
        name="dataset_statistics",
    )


def per_cell_pipeline(job: Pipeline) -> Pipeline:
    """``cells.labels: per_cell``: ``job`` with one labelled row per sampled cell. The DE
    test (and its log expression) and the condition labels give way to `nodes.label_cells`;
    the split and the statistics also read ``label_rows_table``, so all cells of a condition
    share a side."""
    replaced = job.only_nodes(*PER_CELL_REPLACES)
    return (job - replaced) + pipeline(
        [
            node(
                nodes.label_cells,
                ["cell_labels_table", "cell_rows_table", "design_table", "universe_table"],
                ["labels_table", "perturbations_table", "label_rows_table"],
                name="label_cells",
            ),
            _split_node("label_rows_table"),
            _statistics_node("label_rows_table"),
        ]
    )


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                nodes.harmonise_edges,
                [
                    "raw_edges",
                    "raw_genes",
                    "raw_synonyms",
                    "params:data_processing.edges",
                    "params:data_processing.genes",
                ],
                ["harmonised_edges_table", "edge_harmonisation_report"],
                name="harmonise_edges",
            ),
            node(
                nodes.build_universe,
                [
                    "raw_expression",
                    "raw_genes",
                    "harmonised_edges_table",
                    "params:data_processing.universe",
                ],
                ["universe_table", "kb_edges_table", "gene_universe_report"],
                name="build_universe",
            ),
            node(
                nodes.select_conditions,
                [
                    "raw_design",
                    "raw_genes",
                    "raw_synonyms",
                    "params:data_processing.conditions",
                    "params:data_processing.genes",
                ],
                ["design_table", "conditions_report"],
                name="select_conditions",
            ),
            node(
                nodes.expression_values,
                ["raw_expression", "params:data_processing.expression"],
                "log_expression",
                name="expression_values",
            ),
            node(
                nodes.differential_expression,
                [
                    "log_expression",
                    "design_table",
                    "params:data_processing.differential_expression",
                ],
                "differential_expression_table",
                name="differential_expression",
            ),
            node(
                nodes.label_conditions,
                [
                    "differential_expression_table",
                    "design_table",
                    "universe_table",
                    "params:data_processing.differential_expression",
                ],
                ["labels_table", "perturbations_table"],
                name="label_conditions",
            ),
            _split_node(),
            node(
                nodes.unlabelled_inputs,
                ["universe_table", "perturbations_table", "params:data_processing.unlabelled"],
                "unlabelled_table",
                name="unlabelled_inputs",
            ),
            _statistics_node(),
        ]
    )
