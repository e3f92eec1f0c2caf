"""One self-contained HTML report per run: explanatory text, tables, figures embedded as
base64 PNG, the parameters, the input files and the MLflow run ID."""

from __future__ import annotations

import base64
import html
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from aligned_kedro.core.knowledge.refinement.edges import EVIDENCE, kept_by_support

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 70rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; line-height: 1.45; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2.2rem;
  border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 0.8rem; margin: 0.5rem 0 1rem; }
th, td { border: 1px solid #ddd; padding: 0.2rem 0.45rem; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
.scroll { overflow-x: auto; max-height: 32rem; overflow-y: auto; }
figure { margin: 0.5rem 0 1.5rem; } figcaption, caption { font-size: 0.85rem; color: #555;
  text-align: left; caption-side: top; padding-bottom: 0.3rem; }
img { max-width: 100%; } .meta { color: #555; font-size: 0.9rem; }
"""


@dataclass
class Section:
    """A report section: short explanation (paragraphs separated by blank lines), then
    its tables and figures, each with a caption."""

    title: str
    text: str
    tables: Sequence[tuple[str, pd.DataFrame]] = field(default_factory=list)
    figures: Sequence[tuple[str, Figure]] = field(default_factory=list)


def slug(text: str) -> str:
    """Anchor id of a caption: lower case, runs of other characters as one dash."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def figure_png(fig: Figure, dpi: int = 110) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def _format(value: Any) -> str:
    if isinstance(value, float | np.floating):
        if np.isnan(value):
            return "–"
        return f"{value:.4g}"
    return str(value)


def table_html(caption: str, table: pd.DataFrame, max_rows: int = 200) -> str:
    shown = table.head(max_rows)
    note = (
        f" (first {max_rows} of {len(table)} rows; the full table is the run's CSV)"
        if len(table) > max_rows
        else ""
    )
    body = shown.to_html(
        index=False,
        table_id=f"table-{slug(caption)}",
        formatters={c: _format for c in shown.columns},
        na_rep="–",
        border=0,
        escape=True,
    )
    body = body.replace(
        ">\n  <thead>", f">\n  <caption>{html.escape(caption + note)}</caption>\n  <thead>", 1
    )
    return f'<div class="scroll">{body}</div>'


def _flatten(prefix: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, Mapping):
        out: list[tuple[str, str]] = []
        for key, inner in value.items():
            out += _flatten(f"{prefix}.{key}" if prefix else str(key), inner)
        return out
    return [(prefix, repr(value) if isinstance(value, str) else str(value))]


def parameter_table(parameters: Mapping[str, Any]) -> pd.DataFrame:
    """Nested parameters as (parameter, value) rows with dotted names."""
    return pd.DataFrame(_flatten("", parameters), columns=["parameter", "value"])


def _paragraphs(text: str) -> str:
    return "\n".join(
        f"<p>{html.escape(' '.join(p.split()))}</p>"
        for p in text.strip().split("\n\n")
        if p.strip()
    )


def render_html(
    title: str,
    sections: Sequence[Section],
    *,
    run_id: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    provenance: pd.DataFrame | None = None,
    created: str | None = None,
) -> str:
    """The whole report as one HTML string; nothing is fetched when it is opened."""
    meta = [f"MLflow run ID: <code>{html.escape(run_id or 'none (run outside MLflow)')}</code>"]
    if created:
        meta.append(f"Created: {html.escape(created)}")
    entries = [(slug(s.title), s.title) for s in sections]
    if provenance is not None:
        entries.append(("inputs", "Input files"))
    if parameters is not None:
        entries.append(("parameters", "Parameters"))
    toc = "".join(f'<li><a href="#{a}">{html.escape(t)}</a></li>' for a, t in entries)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="meta">{" · ".join(meta)}</p>',
        f"<nav><ol>{toc}</ol></nav>",
    ]
    for section in sections:
        parts.append(f'<h2 id="{slug(section.title)}">{html.escape(section.title)}</h2>')
        parts.append(_paragraphs(section.text))
        for caption, fig in section.figures:
            png = base64.b64encode(figure_png(fig)).decode("ascii")
            parts.append(
                f'<figure id="figure-{slug(caption)}"><img alt="{html.escape(caption)}" '
                f'src="data:image/png;base64,{png}"><figcaption>{html.escape(caption)}'
                "</figcaption></figure>"
            )
        for caption, table in section.tables:
            parts.append(table_html(caption, table))
    if provenance is not None:
        parts.append('<h2 id="inputs">Input files</h2>')
        parts.append(
            _paragraphs(
                "The datasets this run read that no node of it produced, with the file, "
                "its size and SHA-256 checksum: the same checksums mean the same inputs."
            )
        )
        parts.append(table_html("Input files", provenance))
    if parameters is not None:
        parts.append('<h2 id="parameters">Parameters</h2>')
        parts.append(_paragraphs("Every parameter of the run, after command-line overrides."))
        parts.append(table_html("Parameters", parameter_table(parameters), max_rows=10_000))
    parts.append("</body></html>")
    return "\n".join(parts)


def mean_sd(table: pd.DataFrame, metric: str) -> pd.Series:
    """ "mean ± sd" strings of an aggregated metric ("mean" alone where sd is undefined)."""
    mean = table[f"{metric}_mean"].to_numpy(dtype=float)
    sd = table[f"{metric}_sd"].to_numpy(dtype=float)
    return pd.Series(
        [
            f"{m:.4f}" if np.isnan(s) else f"{m:.4f} ± {s:.4f}"
            for m, s in zip(mean, sd, strict=True)
        ],
        index=table.index,
    )


def _row(table: pd.DataFrame, column: str, value: str) -> pd.Series | None:
    found = table[table[column] == value]
    return None if found.empty else found.iloc[-1]


def _data_section(validation: pd.DataFrame) -> Section:
    """The data first: conditions, genes, labels, the data–knowledge relations (Figure 1),
    from the validation report; then its warnings and errors."""
    values = validation.drop_duplicates("check", keep="last").set_index("check")["value"]

    def n(check: str) -> int | None:
        value = values.get(check)
        return None if value is None or pd.isna(value) else int(value)

    def share(check: str) -> str:
        value = values.get(check)
        return "?" if value is None or pd.isna(value) else f"{100 * float(value):.1f}%"

    text = []
    if n("genes.measured") is not None:
        text.append(
            f"{n('genes.measured')} measured genes ({n('genes.in_kb')} with a KB edge), "
            f"{n('genes.latent') or 0} unmeasured KB genes kept as latent genes; "
            f"{n('split.train')} training and {n('split.test')} test conditions."
        )
    if n("labels.up") is not None:
        text.append(
            f"Labels: {n('labels.up')} up, {n('labels.down')} down and "
            f"{n('labels.unchanged')} unchanged ({share('labels.changed')} changed); "
            f"{n('labels.called_per_condition')} genes are called in the median condition."
        )
    if n("inconsistency.n_relations") is not None:
        text.append(
            f"Data and knowledge (Figure 1), over the {n('inconsistency.n_relations')} "
            "relations between the perturbed genes and the genes the KB or the data link "
            f"them to: {share('inconsistency.share_agreeing')} agree, "
            f"{share('inconsistency.share_conflicting')} conflict, "
            f"{share('inconsistency.share_missing')} are missing from the KB and "
            f"{share('inconsistency.share_tied')} tie; where δ_KB deduces a change, the "
            f"measured log2 fold change has its sign in "
            f"{share('inconsistency.sign_share_agreeing')} of the entries."
        )
    paragraphs = [" ".join(text)] if text else []
    problems = validation[validation["status"].isin(["warn", "error"])]
    paragraphs.append(
        "Every check is in the validation report; its warnings and errors are listed here."
        if not problems.empty
        else "Every check of the validation report passed."
    )
    no_test = validation["check"].eq("split.test") & validation["detail"].str.contains(
        "strategy none", regex=False
    )
    if no_test.any():
        paragraphs.append(
            "No test split (split strategy none): every condition trains, so the "
            "consistency scores of the benchmark below are not computed (empty); "
            "refinement, the refined GRN and the data-knowledge inconsistency are, and "
            "knowledge usage counts the training conditions."
        )
    columns = [c for c in ("check", "status", "value", "detail") if c in problems.columns]
    return Section(
        "Data",
        "\n\n".join(paragraphs),
        tables=[("Warnings and errors of the validation", problems[columns])],
    )


def _consistency_text(benchmark: pd.DataFrame) -> str:
    seeds = sorted(set(int(n) for n in benchmark["n_seeds"]))
    text = [
        "Data consistency is the macro F1 of the final predictions ȳ against the observed "
        "labels of the test conditions; knowledge consistency is their macro F1 against the "
        "deduction δ_KB of the ORIGINAL knowledge base (kb_f1_current: against the KB the "
        "stage works with, the refined one after a refinement); balanced consistency combines both "
        "(Eq. 3, γ = 5) and is high only when both are (section 3.1). Baselines: no-change "
        "predicts no response anywhere, KB-only is δ_KB itself (knowledge consistency 1 by "
        "construction), linear is a ridge model on perturbation embeddings and neural-only "
        "is f_y without the adaptor; static routing combines that f_y with δ_KB by the "
        "prior alone (δ_KB for the genes with w ≥ 0.5), so an ALIGNED stage's static_gain "
        "is what its adaptor adds over that rule with the stage's own f_y. The oracle "
        "routing chooses per gene and condition between the same two answers WITH the test "
        "labels: an upper bound, never a method. ALIGNED stages: A = alignment, R = "
        "refinement.",
        f"Values are means over {'/'.join(map(str, seeds))} seed(s) (column n_seeds); the "
        "standard deviation is shown where a row averages several seeds and is undefined "
        "(–) for a single seed.",
    ]
    aligned = benchmark[benchmark["method"] == "ALIGNED"]
    if benchmark["balanced_f1_mean"].isna().all():
        text.append("No stage has a score: the run has no test split (Data checks).")
    elif not aligned.empty:
        best = aligned.loc[aligned["balanced_f1_mean"].idxmax()]
        last = aligned.iloc[-1]
        line = (
            f"Best balanced consistency of ALIGNED: {best['balanced_f1_mean']:.4f} at stage "
            f"{best['stages']}. The last stage ({last['stages']}) reaches data "
            f"{last['data_f1_mean']:.4f}, knowledge {last['kb_f1_mean']:.4f} and balanced "
            f"{last['balanced_f1_mean']:.4f}."
        )
        text.append(" ".join([line, _against_baselines(benchmark, last)]).strip())
    return "\n\n".join(text)


def _against_baselines(benchmark: pd.DataFrame, last: pd.Series) -> str:
    """The last ALIGNED stage against the best baseline by balanced consistency, named,
    saying plainly when the baseline wins."""
    baselines = benchmark[benchmark["method"] != "ALIGNED"].dropna(subset=["balanced_f1_mean"])
    if baselines.empty:
        return ""
    top = baselines.loc[baselines["balanced_f1_mean"].idxmax()]
    scores = (
        f"data {top['data_f1_mean']:.4f}, knowledge {top['kb_f1_mean']:.4f}, balanced "
        f"{top['balanced_f1_mean']:.4f}"
    )
    gap = last["balanced_f1_mean"] - top["balanced_f1_mean"]
    if gap > 0:
        return (
            f"The best baseline, {top['method']} ({scores}), is {gap:.4f} below it in "
            "balanced consistency."
        )
    return (
        f"A baseline wins this run: {top['method']} ({scores}) is {-gap:.4f} above the last "
        "ALIGNED stage in balanced consistency."
    )


def _grn_changes(grn_reports: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    rows = []
    for stage, report in grn_reports.items():
        row: dict[str, Any] = {"stage": stage}
        for status in ("kept", "added", "removed"):
            chosen = report["status"] == status
            row[status] = int(chosen.sum())
            row[f"{status}_activations"] = int((chosen & (report["sign"] == 1)).sum())
            row[f"{status}_inhibitions"] = int((chosen & (report["sign"] == -1)).sum())
        if "support" in report.columns:
            counts = kept_by_support(report)
            for name in ("supported", "contradicted", "untested"):
                row[f"kept_{name}"] = counts[name]
        if "evidence" in report.columns:
            for status in ("added", "removed"):
                chosen = report[report["status"] == status]
                for evidence in EVIDENCE:
                    row[f"{status}_by_{evidence}"] = int((chosen["evidence"] == evidence).sum())
                known = chosen["confidence"].notna()
                row[f"{status}_with_confidence"] = int(known.sum())
                row[f"{status}_confident"] = int((chosen["confidence"] >= 0.5).sum())
        rows.append(row)
    return pd.DataFrame(rows)


HEADLINE_EDITS = 50


def _observed_edits(grn_reports: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The headline list: edits that measured responses point to (observed support in the
    edit's direction), strongest first, with their evidence, price and driving inputs."""
    frames = []
    for stage, report in grn_reports.items():
        if "evidence" not in report.columns:
            continue
        direction = np.where(report["status"] == "removed", -1.0, 1.0)
        edited = report[
            report["status"].isin(["added", "removed"])
            & (direction * report["support_observed"] > 0)
        ]
        columns = [
            c
            for c in (
                "regulator_name",
                "target_name",
                "sign",
                "status",
                "evidence",
                "confidence",
                "price",
                "support_observed",
                "support_predicted",
                "n_observed_inputs",
                "drivers",
            )
            if c in edited.columns
        ]
        frames.append(edited.loc[:, columns].assign(stage=stage))
    if not frames:
        return pd.DataFrame()
    table = pd.concat(frames, ignore_index=True)
    order = table["support_observed"].abs().sort_values(ascending=False, kind="stable").index
    return table.loc[order[:HEADLINE_EDITS], ["stage", *columns]].reset_index(drop=True)


def _change_text(r: pd.Series) -> str:
    text = f"{r['stage']}: {r['added']} edges added, {r['removed']} removed, {r['kept']} kept"
    if pd.notna(r.get("kept_supported")):
        text += (
            f" ({int(r['kept_supported'])} supported by the fitted inputs, "
            f"{int(r['kept_contradicted'])} contradicted by less than λ, "
            f"{int(r['kept_untested'])} untested by measured responses)"
        )
    if pd.notna(r.get("removed_by_observed")):
        kinds = {"observed": ("observed", "both"), "predicted": ("predicted",)}
        kinds["combined"] = ("combined",)
        n = {
            (kind, status): int(sum(r[f"{status}_by_{e}"] for e in names))
            for kind, names in kinds.items()
            for status in ("removed", "added")
        }
        text += (
            f"; measured responses alone pay the price of {n['observed', 'removed']} "
            f"removals and {n['observed', 'added']} additions, the aligned predictions "
            f"alone (the model's extrapolation) of {n['predicted', 'removed']} removals "
            f"and {n['predicted', 'added']} additions, and only both together of "
            f"{n['combined', 'removed']} removals and {n['combined', 'added']} additions"
        )
    return text + "."


def _consistency_tables(benchmark: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean ± sd of the headline metrics per stage, and the per-class means."""
    main = benchmark[["stage", "method", "stages", "n_seeds"]].copy()
    for metric in ("data_f1", "kb_f1", "balanced_f1", "kb_f1_current", "kb_usage"):
        if f"{metric}_mean" in benchmark.columns:
            main[metric] = mean_sd(benchmark, metric)
    per_class = [c for c in benchmark.columns if "precision" in c or "recall" in c]
    per_class = [c for c in per_class if c.endswith("_mean")]
    detail = benchmark[["stage", *per_class]].rename(columns=lambda c: c.removesuffix("_mean"))
    return main, detail


def _topology_text(topology: pd.DataFrame) -> str:
    original = _row(topology, "graph", "original")
    last = topology.iloc[-1]
    text = (
        "Topology of the direct interactions (Figure 4b): modularity of the communities "
        "found on the undirected graph (higher: clearer functional modules), degree "
        "assortativity (negative in GRNs organised around regulatory hubs) and density. "
        "Self-loops are left out and an edge with both signs counts once."
    )
    if original is not None:
        text += (
            f"\n\nThe original GRN has {int(original['n_nodes'])} genes and "
            f"{int(original['n_edges'])} regulator-target pairs: modularity "
            f"{original['modularity']:.4f}, assortativity {original['assortativity']:.4f}, "
            f"density {original['density']:.2e}."
        )
        method = original.get("community_method")
        if isinstance(method, str):
            name = {"greedy": "greedy (Clauset-Newman-Moore)", "louvain": "Louvain (seeded)"}
            text += (
                f" Communities: {name.get(method, method)}, chosen by the GRN's size "
                "(`evaluation.topology`); every statistic is exact, none sampled."
            )
        if last["graph"] != "original":
            text += (
                f" After {last['graph']}: modularity {last['modularity']:.4f}, assortativity "
                f"{last['assortativity']:.4f}, density {last['density']:.2e}."
            )
    return text


def _shortcut_text(shortcuts: pd.DataFrame) -> str:
    text = (
        "Each edge a refinement stage added is compared with the ORIGINAL knowledge base "
        "(appendix F.5, Table 10): direct (an original interaction restored; or the pair of "
        "an original interaction, with the other sign), indirect "
        "(the original closure R±(k) already links regulator and target through a path of "
        "up to k+1 interactions, so the new edge is a shortcut; counted with the same sign, "
        "and with either sign, which includes the same-sign ones) or new."
    )
    if shortcuts.empty or int(shortcuts["n_added"].sum()) == 0:
        return text + "\n\nNo refinement stage of this run added an edge."
    for _, r in shortcuts.iterrows():
        if r["n_added"]:
            text += (
                f"\n\n{r['stage']}: {int(r['n_added'])} added; "
                f"{100 * r['share_indirect_same_sign']:.1f}% were indirect relations of "
                f"the same sign ({100 * r['share_indirect_any_sign']:.1f}% of either sign), "
                f"{100 * r['share_direct']:.1f}% direct, "
                f"{100 * r['share_direct_other_sign']:.1f}% the other sign of a direct "
                f"interaction, {100 * r['share_new']:.1f}% new."
            )
    return text


def _usage_text(usage: pd.DataFrame) -> str:
    text = (
        "Share of the outputs (condition x gene) for which the adaptor took the KB's "
        "deduction (a = 1) rather than the neural prediction, on the test conditions "
        "(Tables 6-7), by the gene's degree in the KB and by its role; the degree stands in "
        "for curation effort, which a KB without evidence levels does not give."
    )
    for _, r in usage[usage["grouping"] == "all"].iterrows():
        text += f" {r['stage']}: {100 * r['kb_usage']:.1f}% of outputs from the KB."
    return text


def run_report_sections(
    benchmark: pd.DataFrame,
    topology: pd.DataFrame,
    shortcuts: pd.DataFrame,
    usage: pd.DataFrame,
    grn_reports: Mapping[str, pd.DataFrame],
    figures: Mapping[str, Figure],
    *,
    validation: pd.DataFrame | None = None,
) -> list[Section]:
    """The report's sections, each with a short explanation written from the numbers;
    with the `validation` report, its warnings and errors first.

    Parameters
    ----------
    benchmark : pandas.DataFrame
        `consistency_benchmark`: per stage, ``<metric>_mean`` and ``<metric>_sd``.
    topology : pandas.DataFrame
        `grn_topology` rows, the original GRN first.
    shortcuts : pandas.DataFrame
        `shortcut_summary` rows, one per refinement stage.
    usage : pandas.DataFrame
        `knowledge_usage` tables of the stages, stacked with a ``stage`` column.
    grn_reports : mapping of str to pandas.DataFrame
        Per refinement stage, its edge table with ``status`` (kept, added, removed).
    figures : mapping of str to matplotlib.figure.Figure
        "consistency", "trajectory", "grn_diff", "topology" and "usage".
    validation : pandas.DataFrame, optional
        The validation report (``check, status, value, detail``).

    Returns
    -------
    list of Section
        Data checks (with `validation`), consistency benchmark, refined GRN, topology,
        added edges, knowledge usage.
    """
    main, detail = _consistency_tables(benchmark)
    changes = _grn_changes(grn_reports)
    observed_edits = _observed_edits(grn_reports)
    change_text = " ".join(_change_text(r) for _, r in changes.iterrows())
    checks = [] if validation is None else [_data_section(validation)]
    return checks + [
        Section(
            "Consistency benchmark",
            _consistency_text(benchmark),
            tables=[
                ("Consistency by method and stage (Table 12)", main),
                ("Per-class precision and recall, means (Table 11)", detail),
            ],
            figures=[
                ("Consistency by method and stage (Figure 3)", figures["consistency"]),
                ("Consistency along the ALIGNED stages (Figure 5)", figures["trajectory"]),
            ],
        ),
        Section(
            "Refined GRN",
            "Each refinement stage (Eq. 6) fits the round's KB to the aligned predictions; "
            "edges are kept, added or removed against the stage's input KB (the original KB "
            "in round 1, the previous round's refined KB afterwards). An edge's support is "
            "how much worse the refined KB fits the inputs without it: support_observed over "
            "the labelled conditions (measured responses), support_predicted over the "
            "unlabelled inputs and their aligned predictions. An edit is backed by the kinds "
            "whose support alone pays its price λ (column evidence: observed, predicted, both, "
            "or combined when only their sum does). " + change_text,
            tables=[
                ("Edges kept, added and removed per stage", changes),
                ("Edits that measured responses point to (strongest first)", observed_edits),
            ],
            figures=[("Edges added and removed per regulator", figures["grn_diff"])],
        ),
        Section(
            "Network topology",
            _topology_text(topology),
            tables=[("Topology of the original and refined GRNs (Figure 4b)", topology)],
            figures=[("Topology of the original and refined GRNs", figures["topology"])],
        ),
        Section(
            "Direct vs indirect added edges",
            _shortcut_text(shortcuts),
            tables=[("Added edges against the original KB (Table 10)", shortcuts)],
        ),
        Section(
            "Knowledge vs data usage",
            _usage_text(usage),
            tables=[("Knowledge and data usage by gene group (Table 6)", usage)],
            figures=[("Knowledge usage by gene group", figures["usage"])],
        ),
    ]


PREDICTION_COLUMNS = (
    "perturbation",
    "gene_name",
    "gene_id",
    "prediction",
    "source",
    "confidence",
    "path",
    "observed",
)
_DIRECTION = {-1: "down", 1: "up"}


def _top_genes_text(row: pd.Series, genes: pd.DataFrame, shown: int) -> str:
    text = (
        f"{row['perturbation']} ({row['perturbation_type']}): {int(row['up'])} genes up and "
        f"{int(row['down'])} down, {int(row['from_kb'])} of them from the KB and "
        f"{int(row['from_neural'])} from f_y"
    )
    if genes.empty:
        return text + "."
    named = [
        f"{g.gene_name} {_DIRECTION[int(g.prediction)]} ({g.source}, {g.confidence:.2f}"
        + (f"; {g.path}" if g.path else "")
        + ")"
        for g in genes.head(shown).itertuples()
    ]
    return f"{text}; most sure: {', '.join(named)}."


def prediction_section(
    summary: pd.DataFrame, top: pd.DataFrame, model: Mapping[str, Any], *, shown: int = 3
) -> Section:
    """The "Predictions" section of a predict run: what each requested perturbation moves.

    Parameters
    ----------
    summary : pandas.DataFrame
        `core.prediction.response_summary`: one row per request (``perturbation``,
        ``perturbation_type``, ``up``, ``down``, ``from_kb``, ``from_neural``, ``measured``).
    top : pandas.DataFrame
        `core.prediction.prediction_table` with ``top``: each request's responding genes,
        most confident first.
    model : mapping
        The predictor's ``run_id`` (the aligned run), ``k``, ``variant`` and ``kb_checksum``.
    shown : int
        Genes named in the text per perturbation (the first ten perturbations).

    Returns
    -------
    Section
        "Predictions": the requests' response counts and their top genes with source,
        confidence and the shortest signed path.
    """
    per_request = max(top.groupby("perturbation", sort=False).size().max(), 0) if len(top) else 0
    run = model.get("run_id")
    saved = f"aligned run {run}" if run else "an aligned run outside MLflow"
    text = [
        f"Predictions of the model saved by {saved} (k = {model['k']}, {model['variant']} "
        f"closure, refined KB {str(model['kb_checksum'])[:12]}) for {len(summary)} "
        "perturbation(s). ȳ is δ_KB of "
        "the refined KB where the adaptor f_a routes a gene to the KB (source kb) and f_y's "
        "answer elsewhere (source neural). Confidence is how sure the chosen source is: f_a's "
        "probability p_kb for a KB answer, f_y's probability of its class for a neural one. "
        "The path is the shortest signed path through the refined KB that carries δ_KB "
        "(empty: no path of at most k+1 interactions, so a neural answer stands alone).",
        f"The table of top genes holds each perturbation's {per_request} (at most) responding "
        "genes the chosen source is most sure of; the run's predictions.csv holds every gene, "
        "and explain(perturbation, gene) lists the paths behind one answer.",
    ]
    groups = dict(tuple(top.groupby("perturbation", sort=False)))
    text += [
        _top_genes_text(row, groups.get(row["perturbation"], top.iloc[:0]), shown)
        for _, row in summary.head(10).iterrows()
    ]
    if len(summary) > 10:
        text.append(f"The other {len(summary) - 10} perturbations are in the tables.")
    columns = [c for c in PREDICTION_COLUMNS if c != "observed" or summary["measured"].any()]
    return Section(
        "Predictions",
        "\n\n".join(text),
        tables=[
            ("Responding genes per perturbation", summary),
            ("Top responding genes with source, confidence and path", top[columns]),
        ],
    )
