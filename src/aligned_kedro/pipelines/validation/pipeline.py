from kedro.pipeline import Pipeline, node, pipeline

from aligned_kedro.pipelines.shape import DEFAULT_SHAPE, PipelineShape

from . import nodes


def create_pipeline(shape: PipelineShape = DEFAULT_SHAPE, **kwargs) -> Pipeline:
    """The split, the knockdown efficiency, the sign agreement and every check, written as
    ``validation_report`` before ``check_validation`` refuses a failed dataset; the split
    it passes on (``conditions_split``) is what training reads, so nothing trains on a
    dataset that failed. Per-cell jobs split by condition (``label_rows_table``) and take
    the fold changes of their pseudobulk samples."""
    rows = {"rows": "label_rows_table"} if shape.per_cell else {}
    fold_changes = []
    if shape.per_cell:
        fold_changes.append(
            node(
                nodes.fold_changes,
                {
                    "expression": "raw_expression",
                    "design": "design_table",
                    "params": "params:data_processing.differential_expression",
                },
                "differential_expression_table",
                name="fold_changes",
            )
        )
    return pipeline(
        [
            *fold_changes,
            node(
                nodes.split_conditions,
                {
                    "perturbations": "perturbations_table",
                    "universe": "universe_table",
                    "params": "params:data_processing.split",
                    "seed": "params:seed",
                    **rows,
                },
                "proposed_split",
                name="split_conditions",
            ),
            node(
                nodes.knockdown_efficiency,
                {
                    "de_table": "differential_expression_table",
                    "design": "design_table",
                    "universe": "universe_table",
                },
                "knockdown_efficiency_report",
                name="knockdown_efficiency",
            ),
            node(
                nodes.kb_sign_agreement,
                {
                    "kb_table": "knowledge_base_table",
                    "universe": "universe_table",
                    "design": "design_table",
                    "de_table": "differential_expression_table",
                    "k": "params:k",
                    "params": "params:knowledge_base",
                },
                ["sign_agreement_report", "sign_agreement_summary"],
                name="sign_agreement",
            ),
            node(
                nodes.validate_inputs,
                {
                    "universe": "universe_table",
                    "perturbations": "perturbations_table",
                    "labels": "labels_table",
                    "edge_report": "edge_harmonisation_report",
                    "conditions_report": "conditions_report",
                    "design": "design_table",
                    "split": "proposed_split",
                    "split_params": "params:data_processing.split",
                    "seed": "params:seed",
                    "efficiency": "knockdown_efficiency_report",
                    "params": "params:data_processing.validation",
                    **rows,
                },
                "validation_checks",
                name="validate_inputs",
            ),
            node(
                nodes.validation_report,
                {
                    "checks": "validation_checks",
                    "inconsistency": "inconsistency_report",
                    "agreement": "sign_agreement_summary",
                },
                ["validation_report", "validation_metrics"],
                name="validation_report",
            ),
            node(
                nodes.check_validation,
                {"report": "validation_report", "split": "proposed_split"},
                "conditions_split",
                name="check_validation",
            ),
            node(
                nodes.split_statistics, "conditions_split", "split_metrics", name="split_statistics"
            ),
        ]
    )
