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
            "n_observed_inputs": [3, 1, None, 0],
            "evidence": ["observed", "observed", "none", "none"],
            "confidence": [None, None, None, 0.8],
            "support_observed": [2.5, 1.0, None, 0.0],
            "support_predicted": [0.0, 0.0, None, 0.0],
            "drivers": ["ko_a (+2.50)", "ko_b (+1.00)", "", ""],
            "regulator_name": ["A", "B", "A", "C"],
            "target_name": ["B", "C", "A", "D"],
        }
    )
    return {
        "benchmark": benchmark,
        "topology": topology,
        "shortcuts": shortcuts,
        "usage": usage,
        "grn": grn,
    }


def sections_of(t: dict, validation: pd.DataFrame | None = None) -> list:
    figures = ("consistency", "trajectory", "grn_diff", "topology", "usage")
    return report.run_report_sections(
        t["benchmark"],
        t["topology"],
        t["shortcuts"],
        t["usage"],
        {"round_1.refine": t["grn"]},
        {name: figure() for name in figures},
        validation=validation,
    )


def test_run_report_sections_explain_the_numbers_and_keep_every_table():
    t = run_tables()
    sections = sections_of(t)
    text = " ".join(s.text for s in sections)
    assert "0.5000 at stage A-R" in text
    assert (
        "round_1.refine: 1 edges added, 0 removed, 3 kept (1 supported by the fitted "
        "inputs, 0 contradicted by less than λ, 1 untested by measured responses); measured "
        "responses alone pay the price of 0 removals and 1 additions, the aligned "
        "predictions alone (the model's extrapolation) of 0 removals and 0 additions, and "
        "only both together of 0 removals and 0 additions." in text
    )
    headline = {caption: table for s in sections for caption, table in s.tables}[
        "Edits that measured responses point to (strongest first)"
    ]
    assert headline[["regulator_name", "target_name", "drivers"]].values.tolist() == [
        ["B", "C", "ko_b (+1.00)"]
    ]
    assert "50.0% were indirect relations of the same sign" in text
    assert "round_1.align: 30.0% of outputs from the KB" in text
    assert "Communities: Louvain (seeded), chosen by the GRN's size" in text
    html = report.render_html("Run", sections)
    captions = [caption for s in sections for caption, _ in s.tables]
    assert len(captions) == 7
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


def test_the_data_section_comes_first_with_the_datasets_own_numbers():
    checks = {
        "genes.measured": 120,
        "genes.in_kb": 80,
        "genes.latent": 4,
        "split.train": 9,
        "split.test": 3,
        "labels.up": 30,
        "labels.down": 50,
        "labels.unchanged": 1360,
        "labels.changed": 80 / 1440,
        "labels.called_per_condition": 6,
        "inconsistency.n_relations": 200,
        "inconsistency.share_agreeing": 0.25,
        "inconsistency.share_conflicting": 0.1,
        "inconsistency.share_missing": 0.6,
        "inconsistency.share_tied": 0.05,
        "inconsistency.sign_share_agreeing": 0.43,
    }
    validation = pd.DataFrame(
        {
            "check": [*checks, "controls.missing"],
            "status": ["ok"] * len(checks) + ["warn"],
            "value": [*checks.values(), 2],
            "detail": [""] * len(checks) + ["conditions dropped without control samples"],
        }
    )
    sections = sections_of(run_tables(), validation=validation)
    data = sections[0]
    assert data.title == "Data"
    assert "120 measured genes (80 with a KB edge), 4 unmeasured KB genes" in data.text
    assert "9 training and 3 test conditions" in data.text
    assert "Labels: 30 up, 50 down and 1360 unchanged (5.6% changed)" in data.text
    assert "25.0% agree, 10.0% conflict, 60.0% are missing" in data.text
    assert "sign in 43.0% of the entries" in data.text
    assert data.tables[0][1]["check"].tolist() == ["controls.missing"]
    assert "E. coli" not in " ".join(s.text for s in sections)


def prediction_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    summary = pd.DataFrame(
        {
            "perturbation": ["crp", "crp+fnr", "dps"],
            "perturbation_type": ["KO", "KO+KO", "OE"],
            "up": [2, 1, 0],
            "down": [1, 3, 0],
            "from_kb": [2, 4, 0],
            "from_neural": [1, 0, 0],
            "measured": [True, False, False],
        }
    )
    top = pd.DataFrame(
        {
            "perturbation": ["crp", "crp", "crp+fnr"],
            "gene_name": ["narK", "soxS", "gadE"],
            "gene_id": ["b0003", "b0005", "b0006"],
            "prediction": [-1, 1, 1],
            "source": ["kb", "neural", "kb"],
            "confidence": [0.97, 0.61, 0.88],
            "path": ["crp -| fnr -> narK", "", "fnr -| gadE"],
            "observed": pd.array([-1, 0, pd.NA], dtype="Int8"),
            "p_kb": [0.97, 0.2, 0.88],
        }
    )
    return summary, top


def test_the_predictions_section_names_each_perturbations_top_genes_source_and_path():
    summary, top = prediction_tables()
    model = {"run_id": "abc", "k": 4, "variant": "integer", "kb_checksum": "f" * 64}
    section = report.prediction_section(summary, top, model, shown=1)
    assert section.title == "Predictions"
    assert "saved by aligned run abc (k = 4, integer closure, refined KB ffffffffffff)" in (
        section.text
    )
    assert (
        "crp (KO): 2 genes up and 1 down, 2 of them from the KB and 1 from f_y; most sure: "
        "narK down (kb, 0.97; crp -| fnr -> narK)." in section.text
    )
    assert "crp+fnr (KO+KO): 1 genes up and 3 down" in section.text
    assert "soxS" not in section.text
    assert "dps (OE): 0 genes up and 0 down, 0 of them from the KB and 0 from f_y." in section.text
    (_, counts), (_, genes) = section.tables
    assert counts["perturbation"].tolist() == ["crp", "crp+fnr", "dps"]
    assert list(genes.columns) == list(report.PREDICTION_COLUMNS)
    html = report.render_html("Predictions", [section], run_id="xyz")
    assert 'id="predictions"' in html and "crp -| fnr -&gt; narK" in html
    unmeasured = report.prediction_section(summary.assign(measured=False), top, model)
    assert "observed" not in unmeasured.tables[1][1].columns
