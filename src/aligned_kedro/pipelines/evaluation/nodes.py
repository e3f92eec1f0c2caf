"""Thin nodes over aligned_kedro.core for the evaluation pipeline."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import mlflow
import pandas as pd
from matplotlib.figure import Figure

from aligned_kedro.core.evaluation import analysis, plots, report
from aligned_kedro.core.evaluation.analysis.benchmark import CONSISTENCY
from aligned_kedro.core.rounds import round_namespace, stage_name
from aligned_kedro.pipelines._common import kb_from_table, measured_mask

log = logging.getLogger(__name__)


def run_summary(stages: list[str], *stage_metrics: dict[str, float]) -> pd.DataFrame:
    """One row per stage, one column per metric: this run's line of the paper's tables."""
    rows = []
    for stage in stages:
        prefix = f"{stage}."
        values = {
            name.removeprefix(prefix): value
            for found in stage_metrics
            for name, value in found.items()
            if name.startswith(prefix) and not isinstance(value, list)
        }
        rows.append({"stage": stage, **values})
    return pd.DataFrame(rows)


# --- analyses, plots and the run report (sections 4.1-4.4, appendix F) ---------------------


def consistency_benchmark(summary: pd.DataFrame) -> pd.DataFrame:
    """Figure 3 / Table 12 for this run: mean and sd over seeds per method and stage; a
    run without a test split (strategy none) scores nothing, so its scores are NaN."""
    if any(m in summary.columns for m in CONSISTENCY):
        return analysis.consistency_benchmark(summary)
    unscored = summary[["stage"]].assign(**dict.fromkeys(CONSISTENCY, 0.0))
    table = analysis.consistency_benchmark(unscored)
    scores = [c for c in table.columns if c.endswith(("_mean", "_sd"))]
    table[scores] = float("nan")
    return table


def _rounds(tables: tuple[pd.DataFrame, ...]) -> dict[int, pd.DataFrame]:
    return dict(enumerate(tables, start=1))


def _refine_stages(grn_reports: tuple[pd.DataFrame, ...]) -> dict[str, pd.DataFrame]:
    return {stage_name("refine", r): grn for r, grn in _rounds(grn_reports).items()}


def grn_topology(
    kb_table: pd.DataFrame, params: dict[str, Any], seed: int, *refined_kbs: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Figure 4b: topology of the original GRN and of every round's refined GRN, and the
    in/out-degree of every gene in each."""
    graphs = {"original": kb_table}
    graphs.update({round_namespace(r): kb for r, kb in _rounds(refined_kbs).items()})
    rows, degrees = [], []
    done: dict[frozenset, dict[str, float | str]] = {}
    for name, edges in graphs.items():
        key = frozenset(zip(edges["regulator"], edges["target"], edges["sign"], strict=True))
        if key not in done:
            done[key] = analysis.grn_topology(
                edges,
                f"{name} GRN",
                communities=params["communities"],
                seed=seed,
                greedy_max_edges=params["greedy_max_edges"],
            )
        rows.append({"graph": name, **done[key]})
        degrees.append(analysis.degree_table(edges, f"{name} GRN").assign(graph=name))
        shown = {k: round(v, 4) if isinstance(v, float) else v for k, v in done[key].items()}
        log.info("topology of the %s GRN: %s", name, shown)
    degree = pd.concat(degrees, ignore_index=True)
    return pd.DataFrame(rows), degree[["graph", "gene_id", "in_degree", "out_degree"]]


def shortcut_edges(
    kb_table: pd.DataFrame, universe: pd.DataFrame, k: int, *grn_reports: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table 10: every edge a refinement stage added, classified against the ORIGINAL KB
    as direct, indirect (a shortcut of a path of up to k+1 interactions, same or either
    sign) or new; and the counts per stage."""
    original = kb_from_table(kb_table, universe)
    summaries, edges = [], []
    for stage, grn in _refine_stages(grn_reports).items():
        added = grn[grn["status"] == "added"]
        classified = analysis.classify_added_edges(original, added, k)
        names = grn.drop_duplicates(["regulator", "target"]).set_index(["regulator", "target"])
        for column in ("regulator_name", "target_name"):
            if column in names.columns:
                keys = pd.MultiIndex.from_frame(classified[["regulator", "target"]])
                classified[column] = names[column].reindex(keys).to_numpy()
        edges.append(classified.assign(stage=stage))
        summaries.append({"stage": stage, "k": k, **analysis.shortcut_summary(classified)})
    table = pd.concat(edges, ignore_index=True) if edges else pd.DataFrame()
    return pd.DataFrame(summaries), table


def knowledge_usage(
    kb_table: pd.DataFrame,
    universe: pd.DataFrame,
    split: dict[str, Any],
    params: dict[str, Any],
    *predictions: pd.DataFrame,
) -> pd.DataFrame:
    """Tables 6-7 for this run: share of outputs taken from the KB (a = 1) on the
    ``params["split"]`` conditions, by KB degree bin and by role (regulator or not), over
    the measured genes.

    The bundled E. coli TRN carries no evidence level (pymodulon's trn.csv has only
    regulator, target and effect), so the curation-effort breakdown of Table 6 is replaced
    by the degree of the gene in the KB.
    """
    measured = measured_mask(universe)
    groups = analysis.degree_groups(
        kb_table, universe.loc[measured, "gene_id"].tolist(), params["degree_bins"]
    )
    frames = []
    for r, table in _rounds(predictions).items():
        usage = analysis.knowledge_usage(
            table,
            _usage_rows(split, params["split"]),
            groups,
            ["degree_bin", "role"],
            f"{round_namespace(r)} predictions",
            skip=universe.loc[~measured, "gene_id"],
        )
        frames.append(usage.assign(stage=stage_name("align", r)))
    out = pd.concat(frames, ignore_index=True)
    return out[["stage", *[c for c in out.columns if c != "stage"]]]


def _usage_rows(split: dict[str, Any], part: str) -> list[str]:
    """The rows of split `part`; without test rows (strategy none), the training rows."""
    if part == "test" and not split["test"]:
        log.warning("no test split: knowledge usage counts the training conditions")
        return split["train"]
    return split[part]


def consistency_plot(benchmark: pd.DataFrame) -> Figure:
    return plots.consistency_bars(benchmark)


def stage_trajectory_plot(benchmark: pd.DataFrame) -> Figure:
    return plots.stage_trajectory(benchmark)


def topology_plot(topology: pd.DataFrame) -> Figure:
    return plots.topology(topology)


def grn_diff_plot(params: dict[str, Any], *grn_reports: pd.DataFrame) -> Figure:
    return plots.grn_diff(_refine_stages(grn_reports), top=params["top_regulators"])


def knowledge_usage_plot(usage: pd.DataFrame) -> Figure:
    return plots.knowledge_usage(usage)


def run_report(
    benchmark: pd.DataFrame,
    topology: pd.DataFrame,
    shortcuts: pd.DataFrame,
    usage: pd.DataFrame,
    validation: pd.DataFrame,
    params: dict[str, Any],
    parameters: dict[str, Any],
    provenance: pd.DataFrame,
    *grn_reports: pd.DataFrame,
) -> tuple[str, str]:
    """The run's self-contained HTML report, twice: at a stable path and as a versioned
    copy, the validation's warnings and errors at the top. Names the active MLflow run."""
    reports = _refine_stages(grn_reports)
    figures = {
        "consistency": plots.consistency_bars(benchmark),
        "trajectory": plots.stage_trajectory(benchmark),
        "grn_diff": plots.grn_diff(reports, top=params["top_regulators"]),
        "topology": plots.topology(topology),
        "usage": plots.knowledge_usage(usage),
    }
    sections = report.run_report_sections(
        benchmark, topology, shortcuts, usage, reports, figures, validation=validation
    )
    run = mlflow.active_run()
    html = report.render_html(
        "ALIGNED run report",
        sections,
        run_id=run.info.run_id if run else None,
        parameters=parameters,
        provenance=provenance,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    return html, html
