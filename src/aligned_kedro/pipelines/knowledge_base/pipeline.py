from kedro.pipeline import Pipeline, node, pipeline

from aligned_kedro.pipelines.shape import DEFAULT_SHAPE, PipelineShape

from . import nodes

KB = {"kb_table": "knowledge_base_table", "universe": "universe_table"}
DEDUCTION = {"k": "params:k", "params": "params:knowledge_base"}


def create_pipeline(shape: PipelineShape = DEFAULT_SHAPE, **kwargs) -> Pipeline:
    """The compiled KB, its statistics, δ_KB of the labelled and unlabelled inputs (Eq. 1)
    and the data-knowledge inconsistency (Eq. 2)."""
    return pipeline(
        [
            node(
                nodes.compile_knowledge_base,
                {
                    "edges": "kb_edges_table",
                    "universe": "universe_table",
                    "params": "params:knowledge_base",
                },
                "knowledge_base_table",
                name="compile_knowledge_base",
            ),
            node(
                nodes.knowledge_base_statistics,
                {**KB, **DEDUCTION},
                "knowledge_base_metrics",
                name="knowledge_base_statistics",
            ),
            node(
                nodes.deduce_predictions,
                {
                    **KB,
                    "perturbations": "perturbations_table",
                    "unlabelled": "unlabelled_table",
                    **DEDUCTION,
                },
                ["kb_predictions_table", "kb_unlabelled_predictions_table"],
                name="deduce",
            ),
            node(
                nodes.inconsistency,
                {
                    **KB,
                    "perturbations": "perturbations_table",
                    "labels": "labels_table",
                    "kb_predictions": "kb_predictions_table",
                    **DEDUCTION,
                },
                [
                    "inconsistency_report",
                    "inconsistency_by_regulator_report",
                    "inconsistency_metrics",
                ],
                name="inconsistency",
            ),
        ]
    )
