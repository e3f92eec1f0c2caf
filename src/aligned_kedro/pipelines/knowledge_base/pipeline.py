from kedro.pipeline import Pipeline, node, pipeline

from . import nodes


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                nodes.compile_knowledge_base,
                ["kb_edges_table", "universe_table", "params:knowledge_base"],
                "knowledge_base_table",
                name="compile_knowledge_base",
            ),
            node(
                nodes.knowledge_base_statistics,
                ["knowledge_base_table", "universe_table", "params:k", "params:knowledge_base"],
                "knowledge_base_metrics",
                name="knowledge_base_statistics",
            ),
            node(
                nodes.deduce_predictions,
                [
                    "knowledge_base_table",
                    "universe_table",
                    "perturbations_table",
                    "unlabelled_table",
                    "params:k",
                    "params:knowledge_base",
                ],
                ["kb_predictions_table", "kb_unlabelled_predictions_table"],
                name="deduce",
            ),
            node(
                nodes.inconsistency,
                [
                    "knowledge_base_table",
                    "universe_table",
                    "perturbations_table",
                    "labels_table",
                    "kb_predictions_table",
                    "params:k",
                    "params:knowledge_base",
                ],
                [
                    "inconsistency_report",
                    "inconsistency_by_regulator_report",
                    "inconsistency_metrics",
                ],
                name="inconsistency",
            ),
            node(
                nodes.kb_only_baseline,
                ["kb_predictions_table", "labels_table", "conditions_split", "params:gamma"],
                "kb_only_baseline_metrics",
                name="kb_only_baseline",
            ),
        ]
    )
