"""The analyses, plots and report of a run (sections 4.1-4.4, appendix F)."""

from kedro.pipeline import Pipeline, node, pipeline

from aligned_kedro.core.rounds import round_namespace
from aligned_kedro.hooks import RUN_PARAMETERS

from . import nodes


def _rounds(dataset: str, rounds: int) -> list[str]:
    """``round_<r>.<dataset>`` of rounds 1..``rounds``."""
    return [f"{round_namespace(r)}.{dataset}" for r in range(1, rounds + 1)]


def create_pipeline(rounds: int) -> Pipeline:
    """Tables (``*_analysis``), figures (``*_plot``) and the HTML report of a run."""
    refined_kbs = _rounds("refined_kb_table", rounds)
    grn_reports = _rounds("refined_grn_report", rounds)
    predictions = _rounds("align_predictions_table", rounds)
    analyses = "consistency_benchmark_analysis"
    return pipeline(
        [
            node(
                nodes.consistency_benchmark,
                "run_summary_report",
                analyses,
                name="consistency_benchmark",
            ),
            node(
                nodes.grn_topology,
                [
                    "knowledge_base_table",
                    "params:evaluation.topology",
                    "params:seed",
                    *refined_kbs,
                ],
                ["grn_topology_analysis", "grn_degree_analysis"],
                name="grn_topology",
            ),
            node(
                nodes.shortcut_edges,
                ["knowledge_base_table", "universe_table", "params:k", *grn_reports],
                ["shortcut_edges_analysis", "added_edges_analysis"],
                name="shortcut_edges",
            ),
            node(
                nodes.knowledge_usage,
                [
                    "knowledge_base_table",
                    "universe_table",
                    "conditions_split",
                    "params:evaluation.usage",
                    *predictions,
                ],
                "knowledge_usage_analysis",
                name="knowledge_usage",
            ),
            node(nodes.consistency_plot, analyses, "consistency_plot", name="consistency_plot"),
            node(
                nodes.stage_trajectory_plot,
                analyses,
                "stage_trajectory_plot",
                name="stage_trajectory_plot",
            ),
            node(
                nodes.topology_plot,
                "grn_topology_analysis",
                "grn_topology_plot",
                name="grn_topology_plot",
            ),
            node(
                nodes.grn_diff_plot,
                ["params:evaluation.report", *grn_reports],
                "grn_diff_plot",
                name="grn_diff_plot",
            ),
            node(
                nodes.knowledge_usage_plot,
                "knowledge_usage_analysis",
                "knowledge_usage_plot",
                name="knowledge_usage_plot",
            ),
            node(
                nodes.run_report,
                [
                    analyses,
                    "grn_topology_analysis",
                    "shortcut_edges_analysis",
                    "knowledge_usage_analysis",
                    "validation_report",
                    "params:evaluation.report",
                    f"params:{RUN_PARAMETERS}",
                    "data_provenance",
                    *grn_reports,
                ],
                ["run_report_html", "run_report_archive_html"],
                name="run_report",
            ),
        ]
    )
