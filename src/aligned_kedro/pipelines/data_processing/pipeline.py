from kedro.pipeline import Pipeline, node, pipeline

from . import nodes


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                nodes.harmonise_edges,
                ["raw_edges", "raw_genes", "raw_synonyms", "params:data_processing.edges"],
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
                ["raw_design", "raw_genes", "raw_synonyms", "params:data_processing.conditions"],
                ["design_table", "conditions_report"],
                name="select_conditions",
            ),
            node(
                nodes.differential_expression,
                [
                    "raw_expression",
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
            node(
                nodes.split_conditions,
                ["perturbations_table", "params:data_processing.split", "params:seed"],
                "conditions_split",
                name="split_conditions",
            ),
            node(
                nodes.unlabelled_inputs,
                ["universe_table", "perturbations_table", "params:data_processing.unlabelled"],
                "unlabelled_table",
                name="unlabelled_inputs",
            ),
            node(
                nodes.dataset_statistics,
                [
                    "labels_table",
                    "universe_table",
                    "conditions_split",
                    "unlabelled_table",
                    "conditions_report",
                ],
                "dataset_metrics",
                name="dataset_statistics",
            ),
        ]
    )
