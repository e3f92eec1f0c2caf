from functools import partial, update_wrapper

from kedro.pipeline import Pipeline, node, pipeline

from . import analyses, nodes

BASELINES = ["no_change", "kb_only", "linear", "neural_only"]


def create_pipeline(rounds: int = 2, **kwargs) -> Pipeline:
    """The no-change baseline and the run summary (one row per baseline and A/R stage),
    then the analyses, plots and report of the run."""
    stages = [f"baseline.{name}" for name in BASELINES]
    metrics = [f"{name}_baseline_metrics" for name in BASELINES]
    for r in range(1, rounds + 1):
        stages += [f"round_{r}.align", f"round_{r}.refine"]
        metrics += [f"round_{r}.align_metrics", f"round_{r}.refine_metrics"]
    summary = update_wrapper(partial(nodes.run_summary, stages), nodes.run_summary)
    return pipeline(
        [
            node(
                nodes.no_change_baseline,
                ["labels_table", "kb_predictions_table", "conditions_split", "params:gamma"],
                "no_change_baseline_metrics",
                name="no_change_baseline",
            ),
            node(summary, metrics, "run_summary_report", name="run_summary"),
        ]
    ) + analyses.create_pipeline(rounds)
