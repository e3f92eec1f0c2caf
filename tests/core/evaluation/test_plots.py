"""The figures: labelled axes and one series per method, stage or penalty."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.container import BarContainer, ErrorbarContainer

from aligned_kedro.core import InputError
from aligned_kedro.core.evaluation import analysis, plots


def benchmark(seeds: int = 1) -> pd.DataFrame:
    stages = ["baseline.kb_only", "baseline.neural_only", "round_1.align", "round_1.refine"]
    rows = [
        {
            "stage": stage,
            "seed": seed,
            "data_f1": 0.3 + 0.01 * i + 0.01 * seed,
            "kb_f1": 0.4 + 0.05 * i,
            "balanced_f1": 0.35 + 0.02 * i,
            "kb_usage": 0.1 * i,
        }
        for seed in range(seeds)
        for i, stage in enumerate(stages)
    ]
    return analysis.consistency_benchmark(pd.DataFrame(rows))


def bars(ax) -> list[BarContainer]:
    return [c for c in ax.containers if isinstance(c, BarContainer)]


def legend(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


@pytest.mark.parametrize("seeds", [1, 3])
def test_consistency_bars_have_one_series_per_consistency(seeds):
    (ax,) = plots.consistency_bars(benchmark(seeds)).axes
    assert legend(ax) == ["Data consistency", "Knowledge consistency", "Balanced consistency"]
    assert [len(c) for c in bars(ax)] == [4, 4, 4]
    assert "macro F1" in ax.get_ylabel() and "Method" in ax.get_xlabel()
    assert [t.get_text() for t in ax.get_xticklabels()][2] == "ALIGNED\nA"
    errorbars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(errorbars) == (3 if seeds > 1 else 0)
    assert f"{seeds} seed" in ax.get_title()


def test_stage_trajectory_starts_from_the_neural_only_model():
    (ax,) = plots.stage_trajectory(benchmark()).axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["neural only", "A", "A-R"]
    assert len(ax.lines) == 3 and len(legend(ax)) == 3
    assert list(ax.lines[0].get_ydata()) == pytest.approx([0.31, 0.32, 0.33])
    assert "stage" in ax.get_xlabel() and "F1" in ax.get_ylabel()


def noise_table() -> pd.DataFrame:
    rows = [
        {
            "noise": noise,
            "seed": seed,
            "penalty": penalty,
            "direct_f1": 1 - noise - 0.1 * (penalty == "frobenius") + 0.02 * seed,
            "closure_f1": 0.9 - noise / 2,
            "direct_precision": 0.5,
            "direct_recall": 0.5,
            "edges_added": 1,
            "edges_removed": 1,
            "seconds": 0.1,
        }
        for noise in (0.0, 0.3, 0.6)
        for seed in (0, 1)
        for penalty in ("l1", "frobenius")
    ]
    return pd.DataFrame(rows)


def test_refinement_noise_plot_has_direct_and_closure_per_penalty():
    (ax,) = plots.refinement_noise(noise_table()).axes
    assert len(legend(ax)) == 4
    assert "Noise" in ax.get_xlabel() and "%" in ax.get_xlabel() and "F1" in ax.get_ylabel()
    solid = [line for line in ax.lines if line.get_linestyle() == "-"]
    frobenius = solid[0]  # penalties in sorted order: frobenius, l1
    assert list(frobenius.get_xdata()) == [0.0, 30.0, 60.0]
    assert list(frobenius.get_ydata()) == pytest.approx([0.91, 0.61, 0.31])


def test_refinement_noise_plot_names_a_missing_column():
    with pytest.raises(InputError, match="closure_f1"):
        plots.refinement_noise(noise_table().drop(columns="closure_f1"))


def grn_report(added: dict[str, int], removed: dict[str, int]) -> pd.DataFrame:
    rows = [("kept", "r0", 1)]
    for status, counts in (("added", added), ("removed", removed)):
        for regulator, n in counts.items():
            rows += [(status, regulator, 1)] * n
    table = pd.DataFrame(rows, columns=["status", "regulator", "sign"])
    return table.assign(regulator_name=table["regulator"].str.upper())


def test_grn_diff_shows_added_and_removed_edges_of_the_top_regulators():
    reports = {
        "round_1.refine": grn_report({"r1": 3, "r2": 1}, {"r1": 2, "r3": 4}),
        "round_2.refine": grn_report({}, {}),
    }
    first, second = plots.grn_diff(reports, top=2).axes
    assert [t.get_text() for t in first.get_yticklabels()] == ["R3", "R1"]  # 4 and 5 changes
    added, removed = bars(first)
    assert [p.get_width() for p in added] == [0, 3] and [p.get_width() for p in removed] == [-4, -2]
    assert legend(first) == ["added", "removed"] and "Regulator" in first.get_ylabel()
    assert first.get_title().startswith("round_1.refine: 4 added, 6 removed")  # all edges
    assert "(the 2 regulators with most changes shown)" in first.get_title()
    assert "0 added, 0 removed" in second.get_title() and not bars(second)[0].patches


def test_knowledge_usage_plot_has_one_panel_per_grouping_and_a_bar_series_per_stage():
    groups = pd.DataFrame({"gene_id": ["g1", "g2"], "degree_bin": ["0", "[1,5)"], "role": "x"})
    predictions = pd.DataFrame({"condition": ["c"], "gene_id": ["g1"], "a": [1]})
    usage = pd.concat(
        [
            analysis.knowledge_usage(predictions, ["c"], groups, ["degree_bin", "role"]).assign(
                stage=stage
            )
            for stage in ("round_1.align", "round_2.align")
        ]
    )
    degree, role = plots.knowledge_usage(usage).axes
    assert legend(degree) == ["round_1.align", "round_2.align"]
    assert [p.get_height() for p in bars(degree)[0]] == pytest.approx([100.0, 0.0])
    assert "%" in degree.get_ylabel() and "degree" in degree.get_xlabel()
    assert len(bars(role)) == 2


def test_topology_plot_compares_every_graph_in_three_panels():
    table = pd.DataFrame(
        {
            "graph": ["original", "round_1"],
            "modularity": [0.5, 0.4],
            "assortativity": [-0.3, np.nan],
            "density": [0.01, 0.02],
        }
    )
    axes = plots.topology(table).axes
    assert [ax.get_ylabel().split(" ")[0] for ax in axes] == ["Modularity", "Degree", "Density"]
    assert all(len(ax.patches) == 2 for ax in axes)
