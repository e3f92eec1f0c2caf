from kedro.pipeline import Pipeline, node, pipeline

from . import nodes


def create_pipeline(**kwargs) -> Pipeline:
    """One node over every configured noise level, seed and penalty; its table, summary and
    F1-vs-noise figure."""
    return pipeline(
        [
            node(
                nodes.refinement_benchmark,
                [
                    "knowledge_base_table",
                    "universe_table",
                    "params:refinement_benchmark",
                    "params:refinement",
                    "params:knowledge_base",
                    "params:k",
                ],
                [
                    "refinement_benchmark_report",
                    "refinement_benchmark_summary_report",
                    "refinement_benchmark_metrics",
                ],
                name="refinement_benchmark",
            ),
            node(
                nodes.noise_plot,
                "refinement_benchmark_report",
                "refinement_noise_plot",
                name="refinement_noise_plot",
            ),
        ]
    )
