"""The HTML run report: every table and figure, self-contained, with its provenance."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from aligned_kedro.core.evaluation import report


def figure() -> Figure:
    fig = Figure()
    fig.add_subplot().plot([0, 1], [1, 0])
    return fig


def test_render_html_holds_every_table_figure_and_the_run():
    sections = [
        report.Section(
            "First <section>",
            "One paragraph.\n\nAnother one.",
            tables=[("A table", pd.DataFrame({"x": [1.234567, np.nan], "y": ["a<b", "c"]}))],
            figures=[("A figure", figure())],
        ),
        report.Section("Second", "Text.", tables=[("B table", pd.DataFrame({"z": [1]}))]),
    ]
    html = report.render_html(
        "Run",
        sections,
        run_id="abc123",
        parameters={"k": 4, "training": {"adaptor": {"theta_share": 0.3}}},
        provenance=pd.DataFrame({"dataset": ["raw_edges"], "sha256": ["f00"]}),
    )
    ids = re.findall(r'<table[^>]*id="(table-[^"]+)"', html)
    assert ids == ["table-a-table", "table-b-table", "table-input-files", "table-parameters"]
    assert html.count("data:image/png;base64,") == 1 and "http" not in html
    assert "abc123" in html and "training.adaptor.theta_share" in html and "f00" in html
    assert "a&lt;b" in html and "First &lt;section&gt;" in html and "1.235" in html
    assert html.count("<p>") >= 3


def test_render_html_without_mlflow_says_so():
    assert "none (run outside MLflow)" in report.render_html("Run", [])


def test_mean_sd_leaves_out_an_undefined_sd():
    table = pd.DataFrame({"m_mean": [0.5, 0.25], "m_sd": [np.nan, 0.125]})
    assert report.mean_sd(table, "m").tolist() == ["0.5000", "0.2500 ± 0.1250"]


def run_tables() -> dict[str, pd.DataFrame]:
    benchmark = pd.DataFrame(
        {
            "stage": ["baseline.neural_only", "round_1.align", "round_1.refine"],
            "method": ["neural-only", "ALIGNED", "ALIGNED"],
            "stages": ["-", "A", "A-R"],
            "n_seeds": 1,
            **{f"{m}_mean": [0.3, 0.4, 0.5] for m in ("data_f1", "kb_f1", "balanced_f1")},
            **{f"{m}_sd": np.nan for m in ("data_f1", "kb_f1", "balanced_f1")},
            "data_precision_up_mean": [0.1, 0.2, 0.3],
        }
    )
    topology = pd.DataFrame(
        {
            "graph": ["original", "round_1"],
            "n_nodes": [10, 10],
            "n_edges": [20, 21],
            "modularity": [0.4, 0.41],
            "assortativity": [-0.2, -0.21],
            "density": [0.2, 0.21],
            "community_method": ["louvain", "louvain"],
        }
    )
    shortcuts = pd.DataFrame(
        {
            "stage": ["round_1.refine"],
            "n_added": [4],
            "share_direct": [0.25],
            "share_direct_other_sign": [0.0],
            "share_indirect_same_sign": [0.5],
            "share_indirect_any_sign": [0.5],
            "share_new": [0.25],
        }
    )
    usage = pd.DataFrame(
        {
            "stage": "round_1.align",
            "grouping": ["all", "role"],
            "group": ["all", "regulator"],
            "kb_usage": [0.3, 0.2],
        }
    )
    grn = pd.DataFrame(
        {
            "status": ["kept", "added", "kept", "kept"],
            "sign": [1, -1, 1, 1],
            "regulator": ["a", "b", "a", "c"],
            "target": ["b", "c", "a", "d"],
            "support": [2.5, 1.0, None, 0.0],
            "inputs_reaching": [3, 1, None, 0],
        }
    )
    return {
        "benchmark": benchmark,
        "topology": topology,
        "shortcuts": shortcuts,
        "usage": usage,
        "grn": grn,
    }


def test_run_report_sections_explain_the_numbers_and_keep_every_table():
    t = run_tables()
    figures = dict.fromkeys(["consistency", "trajectory", "grn_diff", "topology", "usage"])
    figures = {name: figure() for name in figures}
    sections = report.run_report_sections(
        t["benchmark"],
        t["topology"],
        t["shortcuts"],
        t["usage"],
        {"round_1.refine": t["grn"]},
        figures,
    )
    text = " ".join(s.text for s in sections)
    assert "0.5000 at stage A-R" in text
    assert (
        "round_1.refine: 1 edges added, 0 removed, 3 kept (1 supported by the aligned "
        "predictions, 0 contradicted by less than λ, 1 untested)." in text
    )
    assert "50.0% were indirect relations of the same sign" in text
    assert "round_1.align: 30.0% of outputs from the KB" in text
    assert "Communities: Louvain (seeded), chosen by the GRN's size" in text
    html = report.render_html("Run", sections)
    captions = [caption for s in sections for caption, _ in s.tables]
    assert len(captions) == 6
    for caption in captions:
        assert f'id="table-{report.slug(caption)}"' in html
    assert html.count("data:image/png;base64,") == 5


def headline(benchmark: pd.DataFrame) -> str:
    t = run_tables()
    figures = {name: figure() for name in ("consistency", "trajectory", "grn_diff")}
    figures |= {name: figure() for name in ("topology", "usage")}
    sections = report.run_report_sections(
        benchmark, t["topology"], t["shortcuts"], t["usage"], {}, figures
    )
    return " ".join(s.text for s in sections)


def test_the_headline_compares_the_last_stage_with_the_best_baseline():
    benchmark = run_tables()["benchmark"]
    kb_only = benchmark.iloc[[0]].assign(stage="baseline.kb_only", method="KB-only")
    kb_only[["data_f1_mean", "kb_f1_mean", "balanced_f1_mean"]] = [0.35, 1.0, 0.45]
    text = headline(pd.concat([kb_only, benchmark], ignore_index=True))
    assert "The best baseline, KB-only (data 0.3500, knowledge 1.0000, balanced 0.4500)" in text
    assert "is 0.0500 below it in balanced consistency" in text
    kb_only["balanced_f1_mean"] = 0.6
    text = headline(pd.concat([kb_only, benchmark], ignore_index=True))
    assert "A baseline wins this run: KB-only" in text and "is 0.1000 above the last" in text
