from kedro.pipeline import Pipeline, node, pipeline

from . import nodes


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                nodes.no_change_baseline,
                ["labels_table", "kb_predictions_table", "conditions_split", "params:gamma"],
                "no_change_baseline_metrics",
                name="no_change_baseline",
            ),
            node(
                nodes.run_summary,
                [
                    "params:evaluation.stages",
                    "no_change_baseline_metrics",
                    "kb_only_baseline_metrics",
                ],
                "run_summary_report",
                name="run_summary",
            ),
        ]
    )
