from functools import partial, update_wrapper

from kedro.pipeline import Pipeline, node, pipeline

from aligned_kedro.core.rounds import BASELINES, stage_names
from aligned_kedro.pipelines.shape import DEFAULT_SHAPE, PipelineShape

from . import analyses, nodes


def metrics_dataset(stage: str) -> str:
    """The metrics dataset of a stage: ``<name>_baseline_metrics`` of ``baseline.<name>``,
    ``round_<r>.<step>_metrics`` of a round's stage."""
    kind, _, name = stage.partition(".")
    if kind == "baseline" and name in BASELINES:
        return f"{name}_baseline_metrics"
    return f"{stage}_metrics"


def create_pipeline(shape: PipelineShape = DEFAULT_SHAPE, **kwargs) -> Pipeline:
    """The run summary (one row per baseline and A/R stage), then the analyses, plots and
    report of the run."""
    stages = stage_names(shape.rounds)
    summary = update_wrapper(partial(nodes.run_summary, stages), nodes.run_summary)
    return pipeline(
        [
            node(
                summary,
                [metrics_dataset(stage) for stage in stages],
                "run_summary_report",
                name="run_summary",
            )
        ]
    ) + analyses.create_pipeline(shape.rounds)
