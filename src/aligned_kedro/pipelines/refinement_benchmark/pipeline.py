from kedro.pipeline import Pipeline, node, pipeline

from aligned_kedro.pipelines.shape import DEFAULT_SHAPE, PipelineShape

from . import nodes


def create_pipeline(shape: PipelineShape = DEFAULT_SHAPE, **kwargs) -> Pipeline:
    """One node over every configured noise level, seed and penalty; its table, summary and
    F1-vs-noise figure."""
    return pipeline(
        [
            node(
                nodes.refinement_benchmark,
                {
                    "kb_table": "knowledge_base_table",
                    "universe": "universe_table",
                    "params": "params:refinement_benchmark",
                    "refine_params": "params:refinement",
                    "kb_params": "params:knowledge_base",
                    "k": "params:k",
                },
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
