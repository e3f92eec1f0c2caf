"""Figures of the paper for one run (Figures 3, 4a, 4b and 5; Tables 6 and 10).

Every function takes the analysis tables of `aligned_kedro.core.evaluation.analysis` and returns a
matplotlib Figure built without pyplot (no global state, no display needed). Colours are
the Okabe-Ito palette, which stays distinguishable under the common colour-vision
deficiencies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from aligned_kedro.core.errors import InputError

OKABE_ITO = (
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#009E73",  # bluish green
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#F0E442",  # yellow
    "#000000",  # black
)
CONSISTENCY_LABELS = {
    "data_f1": "Data consistency",
    "kb_f1": "Knowledge consistency",
    "balanced_f1": "Balanced consistency",
}
F1_AXIS = "Consistency (macro F1, test split)"


def _require(table: pd.DataFrame, columns: Sequence[str], source: str) -> None:
    for column in columns:
        if column not in table.columns:
            raise InputError("missing column", source=source, column=column)


def _sd(table: pd.DataFrame, column: str) -> np.ndarray | None:
    """Error bars where an sd is defined (several seeds), none otherwise."""
    if column not in table.columns:
        return None
    sd = table[column].to_numpy(dtype=float)
    return np.nan_to_num(sd) if np.isfinite(sd).any() else None


def _method_labels(benchmark: pd.DataFrame) -> list[str]:
    return [
        method if stages == "-" else f"{method}\n{stages}"
        for method, stages in zip(benchmark["method"], benchmark["stages"], strict=True)
    ]


def consistency_bars(benchmark: pd.DataFrame) -> Figure:
    """Data, knowledge and balanced consistency of every method and stage (Figure 3);
    error bars are ± 1 sd over seeds where there are several."""
    columns = [f"{m}_mean" for m in CONSISTENCY_LABELS]
    _require(benchmark, ["method", "stages", *columns], "consistency benchmark")
    labels = _method_labels(benchmark)
    x = np.arange(len(benchmark))
    width = 0.8 / len(CONSISTENCY_LABELS)
    fig = Figure(figsize=(max(6.0, 1.1 * len(x) + 2), 4.5), layout="constrained")
    ax = fig.add_subplot()
    for i, (metric, label) in enumerate(CONSISTENCY_LABELS.items()):
        ax.bar(
            x + (i - 1) * width,
            benchmark[f"{metric}_mean"],
            width,
            yerr=_sd(benchmark, f"{metric}_sd"),
            capsize=2,
            color=OKABE_ITO[i],
            label=label,
        )
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_xlabel("Method (ALIGNED stages: A = alignment, R = refinement)")
    ax.set_ylabel(F1_AXIS)
    ax.set_ylim(0, 1)
    ax.set_title(f"Consistency by method and stage (n = {_seed_note(benchmark)})")
    ax.legend(loc="upper left", fontsize=8, ncols=3)
    return fig


def _seed_note(benchmark: pd.DataFrame) -> str:
    if "n_seeds" not in benchmark.columns:
        return "1 seed"
    seeds = sorted(set(int(n) for n in benchmark["n_seeds"]))
    return f"{'/'.join(map(str, seeds))} seed{'s' if seeds != [1] else ''}"


def stage_trajectory(benchmark: pd.DataFrame) -> Figure:
    """Consistency along the ALIGNED stages, starting from the neural-only model
    (Figure 5, Table 1)."""
    columns = [f"{m}_mean" for m in CONSISTENCY_LABELS]
    _require(benchmark, ["method", "stages", *columns], "consistency benchmark")
    path = benchmark[
        (benchmark["method"] == "ALIGNED") | (benchmark["method"] == "neural-only")
    ].copy()
    path["order"] = np.where(path["method"] == "neural-only", 0, path["stages"].str.len())
    path = path.sort_values("order")
    labels = [
        "neural only" if m == "neural-only" else s
        for m, s in zip(path["method"], path["stages"], strict=True)
    ]
    fig = Figure(figsize=(6.5, 4.2), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(path))
    for i, (metric, label) in enumerate(CONSISTENCY_LABELS.items()):
        ax.errorbar(
            x,
            path[f"{metric}_mean"],
            yerr=_sd(path, f"{metric}_sd"),
            marker="os^"[i],
            capsize=2,
            color=OKABE_ITO[i],
            label=label,
        )
    ax.set_xticks(x, labels)
    ax.set_xlabel("ALIGNED stage (A = alignment, R = refinement)")
    ax.set_ylabel(F1_AXIS)
    ax.set_title("Consistency along the alignment and refinement rounds")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return fig


NOISE_COLUMNS = ("noise", "seed", "penalty", "direct_f1", "closure_f1")


def refinement_noise(table: pd.DataFrame) -> Figure:
    """F1 of the refined GRN against the original, by noise level (Figure 4a): direct
    interactions (solid) and closure (dashed), one colour per penalty; mean ± sd over
    seeds."""
    _require(table, NOISE_COLUMNS, "refinement benchmark")
    fig = Figure(figsize=(6.5, 4.2), layout="constrained")
    ax = fig.add_subplot()
    grouped = table.groupby(["penalty", "noise"])[["direct_f1", "closure_f1"]]
    mean, sd = grouped.mean(), grouped.std(ddof=1)
    names = {"l1": "ℓ1 (sparse, ALIGNED)", "frobenius": "Frobenius (non-sparse)"}
    for i, penalty in enumerate(sorted(table["penalty"].unique())):
        for column, style, kind in (("direct_f1", "-", "direct"), ("closure_f1", "--", "closure")):
            m, s = mean.loc[penalty, column], sd.loc[penalty, column]
            ax.errorbar(
                100 * m.index.to_numpy(dtype=float),
                m.to_numpy(),
                yerr=np.nan_to_num(s.to_numpy()) if s.notna().any() else None,
                linestyle=style,
                marker="o",
                capsize=2,
                color=OKABE_ITO[i],
                label=f"{names.get(penalty, penalty)}, {kind}",
            )
    ax.set_xlabel("Noise (% of KB edges replaced by random ones)")
    ax.set_ylabel("F1 against the original GRN")
    ax.set_ylim(0, 1.02)
    ax.set_title("Knowledge refinement under noise")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def grn_diff(reports: Mapping[str, pd.DataFrame], top: int = 15) -> Figure:
    """Edges added and removed per regulator by each refinement stage, for the ``top``
    regulators with the most changes (one panel per stage); the title counts every edge,
    as the report's text does."""
    fig = Figure(figsize=(7.0, 0.5 + 3.2 * max(1, len(reports))), layout="constrained")
    axes = fig.subplots(max(1, len(reports)), 1, squeeze=False)[:, 0]
    for ax, (stage, report) in zip(axes, reports.items(), strict=False):
        _require(report, ["regulator", "status"], f"{stage} refined GRN")
        names = report.get("regulator_name", report["regulator"]).fillna(report["regulator"])
        counts = (
            pd.crosstab(names, report["status"])
            .reindex(columns=["added", "removed"], fill_value=0)
            .assign(total=lambda t: t["added"] + t["removed"])
        )
        changed = counts[counts["total"] > 0]
        added, removed = int(changed["added"].sum()), int(changed["removed"].sum())
        counts = changed.nlargest(top, "total").iloc[::-1]
        y = np.arange(len(counts))
        ax.barh(y, counts["added"], color=OKABE_ITO[2], label="added")
        ax.barh(y, -counts["removed"], color=OKABE_ITO[4], label="removed")
        ax.set_yticks(y, counts.index, fontsize=8)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_xlabel("Edges removed (left) and added (right)")
        ax.set_ylabel("Regulator")
        kept = int((report["status"] == "kept").sum())
        shown = f" (the {len(counts)} regulators with most changes shown)"
        ax.set_title(
            f"{stage}: {added} added, {removed} removed, {kept} kept"
            + (shown if len(counts) < len(changed) else "")
        )
        if len(counts):
            ax.legend(fontsize=8, loc="lower right")
        else:
            ax.set_xticks([])
            ax.text(
                0.5,
                0.5,
                "no edge added or removed",
                ha="center",
                va="center",
                transform=ax.transAxes,
            )
    return fig


def knowledge_usage(usage: pd.DataFrame) -> Figure:
    """Share of outputs taken from the KB by gene group, one bar per stage (Table 6);
    one panel per grouping."""
    _require(usage, ["stage", "grouping", "group", "kb_usage"], "knowledge usage")
    groupings = [g for g in pd.unique(usage["grouping"]) if g != "all"]
    stages = list(pd.unique(usage["stage"]))
    fig = Figure(figsize=(6.5 * max(1, len(groupings)) / 1.3, 4.0), layout="constrained")
    axes = fig.subplots(1, max(1, len(groupings)), squeeze=False)[0]
    titles = {"degree_bin": "by KB degree of the gene", "role": "by role in the KB"}
    for ax, grouping in zip(axes, groupings, strict=False):
        part = usage[usage["grouping"] == grouping]
        groups = list(pd.unique(part["group"]))
        x = np.arange(len(groups))
        width = 0.8 / max(1, len(stages))
        for i, stage in enumerate(stages):
            values = part[part["stage"] == stage].set_index("group")["kb_usage"].reindex(groups)
            ax.bar(
                x + (i - (len(stages) - 1) / 2) * width,
                100 * values.to_numpy(dtype=float),
                width,
                color=OKABE_ITO[i % len(OKABE_ITO)],
                label=stage,
            )
        ax.set_xticks(x, groups)
        ax.set_xlabel("KB degree (in + out)" if grouping == "degree_bin" else "Gene role")
        ax.set_ylabel("Outputs taken from the KB (%)")
        ax.set_title(f"Knowledge usage {titles.get(grouping, 'by ' + grouping)}")
        ax.set_ylim(0, 100 * max(part["kb_usage"].max(), 0.01) * 1.25)
        ax.legend(fontsize=8, title="stage", loc="upper right", ncols=2)
    return fig


TOPOLOGY_PANELS = {
    "modularity": "Modularity (undirected)",
    "assortativity": "Degree assortativity",
    "density": "Density (arcs / n(n-1))",
}


def topology(table: pd.DataFrame) -> Figure:
    """Modularity, assortativity and density of the original and refined GRNs (Figure 4b)."""
    _require(table, ["graph", *TOPOLOGY_PANELS], "GRN topology")
    fig = Figure(figsize=(10.0, 3.6), layout="constrained")
    axes = fig.subplots(1, len(TOPOLOGY_PANELS))
    x = np.arange(len(table))
    for ax, (column, label) in zip(axes, TOPOLOGY_PANELS.items(), strict=True):
        ax.bar(x, table[column], color=[OKABE_ITO[3]] + [OKABE_ITO[0]] * (len(table) - 1))
        ax.set_xticks(x, table["graph"], rotation=30, ha="right", fontsize=8)
        ax.set_xlabel("GRN")
        ax.set_ylabel(label)
        ax.axhline(0, color="black", linewidth=0.6)
    fig.suptitle("Topology of the original and refined GRNs")
    return fig
