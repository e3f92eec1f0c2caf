from kedro.pipeline import Pipeline, node, pipeline

from aligned_kedro.pipelines.shape import DEFAULT_SHAPE, PipelineShape

from . import nodes


def create_pipeline(shape: PipelineShape = DEFAULT_SHAPE, **kwargs) -> Pipeline:
    """``validate_inputs`` turns the proposed split into ``conditions_split``: every stage
    that uses the split (all of training) runs only after the checks passed."""
    return pipeline(
        [
            node(
                nodes.validate_inputs,
                {
                    "universe": "universe_table",
                    "perturbations": "perturbations_table",
                    "edge_report": "edge_harmonisation_report",
                    "conditions_report": "conditions_report",
                    "design": "design_table",
                    "split": "proposed_split",
                    "params": "params:data_processing.validation",
                },
                ["conditions_split", "validation_checks"],
                name="validate_inputs",
            ),
            node(
                nodes.validation_report,
                {"checks": "validation_checks", "inconsistency": "inconsistency_report"},
                ["validation_report", "validation_metrics"],
                name="validation_report",
            ),
        ]
    )
