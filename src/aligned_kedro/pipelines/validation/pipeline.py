from kedro.pipeline import Pipeline, node, pipeline

from . import nodes


def create_pipeline(**kwargs) -> Pipeline:
    """``validate_inputs`` turns the proposed split into ``conditions_split``: every stage
    that uses the split (all of training) runs only after the checks passed."""
    return pipeline(
        [
            node(
                nodes.validate_inputs,
                [
                    "universe_table",
                    "perturbations_table",
                    "edge_harmonisation_report",
                    "conditions_report",
                    "design_table",
                    "proposed_split",
                    "params:data_processing.validation",
                ],
                ["conditions_split", "validation_checks"],
                name="validate_inputs",
            ),
            node(
                nodes.validation_report,
                ["validation_checks", "inconsistency_report"],
                ["validation_report", "validation_metrics"],
                name="validation_report",
            ),
        ]
    )
