"""The consistency benchmark (Figure 3, Tables 1 and 12): mean and sd over seeds of every
metric, per stage of a run."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from aligned_kedro.core.errors import InputError
from aligned_kedro.core.evaluation.metrics import LABEL_NAMES, aggregate_table

CONSISTENCY = ("data_f1", "kb_f1", "balanced_f1")
PER_CLASS = tuple(
    f"{source}_{kind}_{label}"
    for source in ("data", "kb")
    for kind in ("precision", "recall")
    for label in LABEL_NAMES.values()
)
CURRENT_KB = ("kb_f1_current", "balanced_f1_current")
ROUTING = ("route_switch_share", "static_gain", "oracle_balanced_f1")
BENCHMARK_METRICS = (*CONSISTENCY, *CURRENT_KB, "kb_usage", *ROUTING, *PER_CLASS)
BASELINE_METHODS = {
    "no_change": "no-change",
    "kb_only": "KB-only",
    "linear": "linear",
    "neural_only": "neural-only",
    "static_routing": "static routing",
}
DIAGNOSTIC_METHODS = {"oracle_routing": "oracle routing (upper bound, reads test labels)"}
_ROUND_STAGE = re.compile(r"^round_(\d+)\.(align|refine)$")


def stage_label(stage: str) -> tuple[str, str]:
    """(method, ALIGNED stages) of a run-summary stage: ``round_2.align`` is
    ("ALIGNED", "A-R-A"), ``baseline.kb_only`` is ("KB-only", "-"), the diagnostic
    ``diagnostic.oracle_routing`` is labelled an upper bound."""
    kind, _, name = stage.partition(".")
    if kind == "baseline":
        return BASELINE_METHODS.get(name, name), "-"
    if kind == "diagnostic":
        return DIAGNOSTIC_METHODS.get(name, f"{name} (diagnostic)"), "-"
    found = _ROUND_STAGE.match(stage)
    if not found:
        return stage, "-"
    steps = 2 * int(found.group(1)) - (found.group(2) == "align")
    return "ALIGNED", "-".join("AR"[i % 2] for i in range(steps))


def consistency_benchmark(summary: pd.DataFrame, source: str = "run summary") -> pd.DataFrame:
    """Mean and sample sd over seeds of every metric, per stage (Table 12).

    ``summary`` has one row per stage (and per seed where a ``seed`` column is present).
    With one seed the sd is undefined and reported as NaN; ``n_seeds`` says how many
    seeds each row averages. Stages keep their order of first appearance. A stage without
    a KB of its own (a baseline) scores its `*_current` metrics against the original KB.
    The routing metrics (`ROUTING`) average over the seeds of the stages that have them.
    """
    for column in ("stage", *CONSISTENCY):
        if column not in summary.columns:
            raise InputError("missing column", source=source, column=column)
    table = summary.copy()
    if "seed" not in table.columns:
        table["seed"] = 0
    for current, original in zip(CURRENT_KB, ("kb_f1", "balanced_f1"), strict=True):
        if current in table.columns:
            table[current] = table[current].fillna(table[original])
    duplicated = table.duplicated(["stage", "seed"])
    if duplicated.any():
        row = table.index[duplicated.to_numpy()][0]
        raise InputError(
            f"stage {table.loc[row, 'stage']!r} appears twice for seed {table.loc[row, 'seed']!r}",
            source=source,
            row=row,
        )
    values = [m for m in BENCHMARK_METRICS if m in table.columns and m not in ROUTING]
    out = aggregate_table(table, "stage", values, source=source).rename(columns={"n": "n_seeds"})
    for metric in (m for m in ROUTING if m in table.columns):
        scored = table[table[metric].notna()]
        found = aggregate_table(scored, "stage", [metric], source=source).drop(columns="n")
        out = out.merge(found, on="stage", how="left")
        values.append(metric)
    single = out["n_seeds"] < 2
    out.loc[single, [f"{m}_sd" for m in values]] = np.nan
    order = {stage: i for i, stage in enumerate(pd.unique(table["stage"]))}
    out = out.sort_values("stage", key=lambda s: s.map(order), ignore_index=True)
    labels = out["stage"].map(stage_label)
    out.insert(1, "method", [m for m, _ in labels])
    out.insert(2, "stages", [s for _, s in labels])
    return out
