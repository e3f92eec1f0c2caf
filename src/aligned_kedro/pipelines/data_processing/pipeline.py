from kedro.pipeline import Node, Pipeline, node, pipeline

from aligned_kedro.pipelines.shape import DEFAULT_SHAPE, PipelineShape

from . import nodes

CELL_INPUTS = {
    "raw_expression": "pseudobulk_expression",
    "raw_design": "pseudobulk_design_table",
    "raw_genes": "cell_genes_table",
}


def cells_pipeline(per_cell: bool = False) -> Pipeline:
    """``input: anndata``: cells of ``raw_cells`` pooled into the samples, design and gene
    table that the rest of the job reads where bulk data give ``raw_expression``,
    ``raw_design`` and ``raw_genes`` (see `CELL_INPUTS`); with ``per_cell`` also the
    per-cell labels that `per_cell_labels` reads."""
    inputs = {"cells": "raw_cells", "params": "params:data_processing.cells", "seed": "params:seed"}
    if per_cell:
        outputs = [*CELL_INPUTS.values(), "cells_report", "cell_labels_table", "cell_rows_table"]
        read = node(nodes.read_cells_per_cell, inputs, outputs, name="read_cells")
    else:
        outputs = [*CELL_INPUTS.values(), "cells_report"]
        read = node(nodes.read_cells, inputs, outputs, name="read_cells")
    return pipeline([read])


def _statistics_node(rows: str | None = None) -> Node:
    """`nodes.dataset_statistics`; per-cell jobs add ``label_rows_table``."""
    inputs = {
        "labels_table": "labels_table",
        "universe": "universe_table",
        "unlabelled": "unlabelled_table",
        "conditions_report": "conditions_report",
        "expression_report": "expression_report",
    }
    return node(
        nodes.dataset_statistics,
        {**inputs, "rows": rows} if rows else inputs,
        "dataset_metrics",
        name="dataset_statistics",
    )


def condition_labels() -> Pipeline:
    """One labelled row per condition: log expression, the DE test against the matched
    controls and the ternary labels (the validation pipeline splits the conditions)."""
    return pipeline(
        [
            node(
                nodes.differential_expression,
                {
                    "expression": "log_expression",
                    "design": "design_table",
                    "params": "params:data_processing.differential_expression",
                },
                "differential_expression_table",
                name="differential_expression",
            ),
            node(
                nodes.label_conditions,
                {
                    "de_table": "differential_expression_table",
                    "design": "design_table",
                    "universe": "universe_table",
                    "params": "params:data_processing.differential_expression",
                },
                ["labels_table", "perturbations_table"],
                name="label_conditions",
            ),
            _statistics_node(),
        ]
    )


def per_cell_labels() -> Pipeline:
    """``cells.labels: per_cell``: one labelled row per sampled cell, its condition's
    inputs as X; the statistics also read ``label_rows_table`` (the validation pipeline
    splits by condition, so all cells of a condition share a side)."""
    return pipeline(
        [
            node(
                nodes.label_cells,
                {
                    "cell_labels": "cell_labels_table",
                    "rows": "cell_rows_table",
                    "design": "design_table",
                    "universe": "universe_table",
                },
                ["labels_table", "perturbations_table", "label_rows_table"],
                name="label_cells",
            ),
            _statistics_node("label_rows_table"),
        ]
    )


def create_pipeline(shape: PipelineShape = DEFAULT_SHAPE, **kwargs) -> Pipeline:
    """The GRN on gene IDs, the gene universe, the conditions matched to their controls,
    the labels (per condition, or per cell for ``shape.per_cell``) and X_u."""
    job = pipeline(
        [
            node(
                nodes.harmonise_edges,
                {
                    "raw_edges": "raw_edges",
                    "genes": "raw_genes",
                    "synonyms": "raw_synonyms",
                    "aliases": "raw_aliases",
                    "params": "params:data_processing.edges",
                    "gene_params": "params:data_processing.genes",
                },
                ["harmonised_edges_table", "edge_harmonisation_report"],
                name="harmonise_edges",
            ),
            node(
                nodes.expression_values,
                {"expression": "raw_expression", "params": "params:data_processing.expression"},
                ["log_expression", "expression_report"],
                name="expression_values",
            ),
            node(
                nodes.select_conditions,
                {
                    "design": "raw_design",
                    "genes": "raw_genes",
                    "synonyms": "raw_synonyms",
                    "expression": "log_expression",
                    "edges": "harmonised_edges_table",
                    "params": "params:data_processing.conditions",
                    "gene_params": "params:data_processing.genes",
                    "universe_params": "params:data_processing.universe",
                },
                ["design_table", "conditions_report"],
                name="select_conditions",
            ),
            node(
                nodes.build_universe,
                {
                    "expression": "log_expression",
                    "genes": "raw_genes",
                    "edges": "harmonised_edges_table",
                    "design": "design_table",
                    "k": "params:k",
                    "params": "params:data_processing.universe",
                },
                [
                    "universe_table",
                    "kb_edges_table",
                    "gene_universe_report",
                    "gene_universe_metrics",
                ],
                name="build_universe",
            ),
            node(
                nodes.unlabelled_inputs,
                {
                    "universe": "universe_table",
                    "perturbations": "perturbations_table",
                    "params": "params:data_processing.unlabelled",
                },
                "unlabelled_table",
                name="unlabelled_inputs",
            ),
        ]
    )
    return job + (per_cell_labels() if shape.per_cell else condition_labels())


def with_cells(job: Pipeline, shape: PipelineShape) -> Pipeline:
    """``job`` for ``shape.data_input``: as it is for ``table``; for ``anndata`` after
    `cells_pipeline`, whose outputs it reads where bulk data give ``raw_expression``,
    ``raw_design`` and ``raw_genes``."""
    if shape.data_input != "anndata":
        return job
    return cells_pipeline(per_cell=shape.per_cell) + pipeline(job, inputs=CELL_INPUTS)
