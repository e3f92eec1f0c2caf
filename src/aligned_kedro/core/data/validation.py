"""Checks of a dataset against its knowledge base before training (section 2.1, Figure 1).

Each check gives a report row (``check, status, value, detail``); ``status`` is ``ok``,
``warn`` or ``error``. `raise_on_errors` turns the first error into an `InputError` that
names the file, column or row and gene. Besides the checks: which split strategies a
dataset supports (`split_support`), labels that hold nothing to learn (`label_classes`)
and the knockdown efficiency of every perturbed gene (`knockdown_efficiency`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from aligned_kedro.core.data.design import (
    KB_GENE_DROPPED,
    NOT_MEASURED,
    PERTURBATION_SIGN,
    UNKNOWN_NAME,
    design_conditions,
)
from aligned_kedro.core.errors import InputError
from aligned_kedro.core.knowledge.abstention import SATURATED_SHARE

log = logging.getLogger(__name__)

REPORT_COLUMNS = ("check", "status", "value", "detail", "source", "column", "row", "gene")
EFFICIENCY_COLUMNS = (
    "condition",
    "gene",
    "perturbation_type",
    "expected",
    "measured",
    "log2fc",
    "status",
)
Severity = Literal["warn", "error"]
NO_TEST = "no test split (strategy none): test metrics are not computed"


@dataclass(frozen=True)
class Finding:
    check: str
    status: str
    value: float
    detail: str
    source: str | None = None
    column: str | None = None
    row: object | None = None
    gene: str | None = None


def _names(genes: Sequence[str], universe: pd.DataFrame, limit: int = 10) -> str:
    names = universe.set_index("gene_id")["gene_name"].astype(str)
    shown = [names.get(g, g) for g in genes[:limit]]
    return ", ".join(shown) + (f" and {len(genes) - limit} more" if len(genes) > limit else "")


def kb_coverage(
    universe: pd.DataFrame,
    perturbations: pd.DataFrame,
    edge_report: pd.DataFrame,
    *,
    min_kb_genes: int = 1,
    perturbed_outside_kb: Severity = "warn",
) -> list[Finding]:
    """Measured (and latent) genes, measured genes in the KB, and perturbed genes without
    KB regulation.

    A perturbed gene that regulates nothing in the KB gets no symbolic prediction beyond
    itself; the GNN still takes it as an input gene with its own learned embedding.
    """
    measured = (
        universe["measured"].astype(bool)
        if "measured" in universe.columns
        else pd.Series(True, index=universe.index)
    )
    in_kb = int((universe["in_kb"].astype(bool) & measured).sum())
    findings = [
        Finding("genes.measured", "ok", int(measured.sum()), "measured genes"),
        Finding(
            "genes.latent",
            "ok",
            int((~measured).sum()),
            "unmeasured KB genes in the universe (latent: deduced through, never scored)",
        ),
    ]
    if in_kb < min_kb_genes:
        drops = edge_report[edge_report["action"].eq("dropped")]
        top = drops.sort_values("rows", ascending=False)["reason"].head(3).tolist()
        findings.append(
            Finding(
                "genes.in_kb",
                "error",
                in_kb,
                f"{in_kb} measured genes have a KB edge, fewer than min_kb_genes = "
                f"{min_kb_genes}: do the KB and the data use the same gene identifiers? "
                f"(set data_processing.genes.aliases or a synonym table; most dropped KB "
                f"rows: {top})",
                source="raw_edges",
                column="regulator",
            )
        )
    else:
        findings.append(Finding("genes.in_kb", "ok", in_kb, "measured genes with a KB edge"))
    perturbed = list(perturbations.columns[(perturbations.to_numpy() != 0).any(axis=0)])
    regulators = set(universe.loc[universe["is_regulator"], "gene_id"])
    outside = [g for g in perturbed if g not in regulators]
    if outside:
        findings.append(
            Finding(
                "perturbed.outside_kb",
                perturbed_outside_kb,
                len(outside),
                f"{len(outside)} of {len(perturbed)} perturbed genes regulate nothing in the "
                f"KB and get no symbolic prediction; the GNN still sees them as input genes "
                f"(learned embedding, no KB edges): {_names(outside, universe)}",
                source="raw_edges",
                column="regulator",
                gene=outside[0],
            )
        )
    else:
        findings.append(
            Finding("perturbed.outside_kb", "ok", 0, f"all {len(perturbed)} perturbed genes")
        )
    findings.append(alias_matches(edge_report, universe))
    return findings


def alias_matches(edge_report: pd.DataFrame, universe: pd.DataFrame) -> Finding:
    """Measured genes that match a KB name only through the symbol alias table, and the KB
    rows that recovers (the edge report's ``matched`` lines)."""
    matched = edge_report[
        edge_report["action"].eq("matched") & edge_report["reason"].str.startswith("symbol alias:")
    ]
    gene = matched["reason"].str.rsplit(" -> ", n=1).str[-1]
    kb_name = (
        matched["reason"].str.removeprefix("symbol alias: ").str.split(" (", regex=False).str[0]
    )
    names = universe["gene_name"].astype(str)
    if "measured" in universe.columns:
        names = names[universe["measured"].to_numpy(dtype=bool)]
    keep = gene.isin(set(names))
    pairs = sorted(set(zip(gene[keep], kb_name[keep], strict=True)))
    rows = int(matched.loc[keep, "rows"].sum())
    shown = ", ".join(f"{g} ({k})" for g, k in pairs[:10])
    more = f" and {len(pairs) - 10} more" if len(pairs) > 10 else ""
    return Finding(
        "genes.alias_matched",
        "ok",
        len({g for g, _ in pairs}),
        f"measured genes that match a KB name only through the symbol alias table, "
        f"recovering {rows} KB rows: {shown}{more}"
        if pairs
        else "measured genes that match a KB name only through the symbol alias table",
        source="raw_aliases" if pairs else None,
    )


def replicates(
    conditions: pd.DataFrame, *, min_replicates: int = 1, too_few: Severity = "error"
) -> list[Finding]:
    """Kept conditions with fewer than ``min_replicates`` perturbed or control samples (or
    pseudobulk samples), and conditions dropped for missing controls."""
    kept = conditions[conditions["status"].eq("kept")]
    findings = []
    for column, side in (("n_perturbed", "perturbed"), ("n_control", "control")):
        few = kept[kept[column] < min_replicates]
        if len(few):
            row = few.iloc[0]
            findings.append(
                Finding(
                    f"replicates.{side}",
                    too_few,
                    len(few),
                    f"{len(few)} conditions have fewer than min_replicates = {min_replicates} "
                    f"{side} samples, e.g. {row['condition']!r} with {int(row[column])}",
                    source="raw_design",
                    column="condition",
                    row=row["condition"],
                    gene=str(row["perturbation"]),
                )
            )
        else:
            findings.append(Finding(f"replicates.{side}", "ok", len(kept), "conditions"))
    no_control = conditions[conditions["status"].eq("no control samples")]
    findings.append(
        Finding(
            "controls.missing",
            "warn" if len(no_control) else "ok",
            len(no_control),
            "conditions dropped without control samples"
            + (f", e.g. {no_control['condition'].iloc[0]!r}" if len(no_control) else ""),
        )
    )
    return findings


PERTURBATION_CHECKS = {
    UNKNOWN_NAME: "perturbed.unknown_name",
    NOT_MEASURED: "perturbed.unmeasured_gene",
    KB_GENE_DROPPED: "perturbed.unmeasured_kb_gene",
}


def dropped_perturbations(conditions: pd.DataFrame, limit: int = 10) -> list[Finding]:
    """Conditions dropped for their perturbed genes, one row per reason (an unknown name,
    with the closest known names; a gene neither measured nor in the KB; an unmeasured KB
    gene with ``kb_genes: drop``), and the kept conditions that perturb a latent gene."""
    detail = conditions.get("detail", pd.Series("", index=conditions.index))
    detail = detail.fillna("").astype(str)
    findings = []
    for status, check in PERTURBATION_CHECKS.items():
        found = conditions[conditions["status"].eq(status)]
        shown = [f"{c}: {d}" for c, d in zip(found["condition"], detail[found.index], strict=True)]
        more = f" and {len(found) - limit} more" if len(found) > limit else ""
        findings.append(
            Finding(
                check,
                "warn" if len(found) else "ok",
                len(found),
                f"conditions dropped, {status}"
                + (f": {'; '.join(shown[:limit])}{more}" if len(found) else ""),
            )
        )
    latent = conditions[conditions["status"].eq("kept") & detail.str.startswith("latent input")]
    findings.append(
        Finding(
            "perturbed.latent_input",
            "ok",
            len(latent),
            "kept conditions perturbing an unmeasured KB gene (a latent input)"
            + (f", e.g. {latent['condition'].iloc[0]!r}" if len(latent) else ""),
        )
    )
    return findings


def duplicated_conditions(design: pd.DataFrame) -> list[Finding]:
    """Two condition names with the same perturbation, type and control group."""
    perturbed = design[design["role"].eq("perturbed")].drop_duplicates("condition")
    key = perturbed["perturbation"].astype(str).map(lambda p: "+".join(sorted(p.split("+"))))
    keys = pd.DataFrame(
        {
            "condition": perturbed["condition"].to_numpy(),
            "key": key.to_numpy(),
            "type": perturbed["perturbation_type"].astype(str).to_numpy(),
            "group": perturbed["control_group"].astype(str).to_numpy(),
        }
    )
    twice = keys[keys.duplicated(["key", "type", "group"], keep=False)]
    if not len(twice):
        return [Finding("conditions.duplicated", "ok", 0, f"{len(keys)} distinct conditions")]
    first = twice.iloc[0]
    same = twice[twice["key"].eq(first["key"]) & twice["group"].eq(first["group"])]
    return [
        Finding(
            "conditions.duplicated",
            "error",
            len(twice),
            f"conditions {same['condition'].tolist()} perturb the same genes against the same "
            "controls: merge them into one condition (their samples become replicates)",
            source="raw_design",
            column="condition",
            row=same["condition"].iloc[1],
            gene=str(first["key"]),
        )
    ]


def split_sizes(split: dict[str, Any], subsets: Sequence[str] = ()) -> list[Finding]:
    """Train and test must be non-empty; optional subsets (combo splits) are reported.
    Sizes count conditions, also where the split lists per-cell rows (``conditions``)."""
    conditions = {**split, **split.get("conditions", {})}
    findings = []
    for part in ("train", "test"):
        n = len(conditions.get(part, []))
        if part == "test" and split.get("strategy") == "none":
            findings.append(Finding("split.test", "warn", n, NO_TEST))
            continue
        findings.append(
            Finding(
                f"split.{part}",
                "ok" if n else "error",
                n,
                f"{part} conditions ({split.get('strategy')})"
                if n
                else f"the {part} split of strategy {split.get('strategy')!r} is empty",
                source="parameters",
                column="data_processing.split",
            )
        )
    for name in (*subsets, "held_out", "missing"):
        if name in conditions:
            n = len(conditions[name])
            unused = name in ("held_out", "missing")
            status = "warn" if (unused and n) or (not unused and not n) else "ok"
            findings.append(Finding(f"split.{name}", status, n, "conditions"))
    return findings


def split_support(support: dict[str, str | None], strategy: str) -> list[Finding]:
    """Which split strategies the dataset supports (`splits.strategy_support`), and
    whether the chosen one is among them."""
    supported = [name for name, reason in support.items() if reason is None]
    findings = [
        Finding(
            "split.supported",
            "ok" if supported else "error",
            len(supported),
            f"strategies this dataset supports: {', '.join(supported) or 'none at all'}",
        )
    ]
    reason = support.get(strategy, f"unknown split strategy {strategy!r}")
    if reason is None:
        findings.append(Finding("split.strategy", "ok", 1, f"strategy {strategy!r}"))
        return findings
    hint = (
        "; a single experiment (one group of conditions) trains on every condition with "
        "strategy none, without test metrics"
        if supported == ["none"]
        else ""
    )
    findings.append(
        Finding(
            "split.strategy",
            "error",
            0,
            f"split strategy {strategy!r} cannot split this dataset: {reason}; it supports "
            f"{supported}{hint}",
            source="parameters",
            column="data_processing.split.strategy",
        )
    )
    return findings


def label_classes(
    labels: pd.DataFrame,
    split: dict[str, Any],
    *,
    min_changed_share: float = 0.001,
    uninformative: Severity = "warn",
) -> list[Finding]:
    """Labels with nothing to learn: all or nearly all 0 (below `min_changed_share`
    changed), and test labels of a single class (every method ties on them).

    Parameters
    ----------
    labels : pandas.DataFrame, shape (m, n)
        Y in {-1, 0, 1}, rows named as the split names them.
    split : dict
        ``test``: the rows of the test split.
    min_changed_share : float
        Share of labels that must be -1 or +1.
    uninformative : {"warn", "error"}
    """
    values = labels.to_numpy()
    share = float((values != 0).mean()) if values.size else 0.0
    findings = []
    if share < min_changed_share:
        findings.append(
            Finding(
                "labels.changed",
                uninformative,
                share,
                f"{share:.2%} of {values.size} labels are -1 or +1 (min_changed_share = "
                f"{min_changed_share}): the DE test called (nearly) no gene, so every method "
                "ties on (nearly) all-0 labels; more replicates or a lower "
                "differential_expression.lfc_threshold may help",
                source="labels_table",
            )
        )
    else:
        findings.append(Finding("labels.changed", "ok", share, "share of labels -1 or +1"))
    for check, chosen, what in (
        ("labels.up", values > 0, "labels +1 (up)"),
        ("labels.down", values < 0, "labels -1 (down)"),
        ("labels.unchanged", values == 0, "labels 0 (unchanged)"),
    ):
        findings.append(Finding(check, "ok", int(chosen.sum()), what))
    if len(values):
        called = (values != 0).sum(axis=1)
        findings.append(
            Finding(
                "labels.called_per_condition",
                "ok",
                float(np.median(called)),
                f"median genes called per condition (min {called.min()}, max {called.max()})",
            )
        )
    test = [row for row in split.get("test", []) if row in labels.index]
    if test:
        classes = sorted(int(c) for c in np.unique(labels.loc[test].to_numpy()))
        single = len(classes) == 1
        findings.append(
            Finding(
                "split.test_classes",
                uninformative if single else "ok",
                len(classes),
                f"the test labels hold a single class ({classes[0]}): their scores say "
                "nothing about the methods"
                if single
                else f"label classes in the test split: {classes}",
                source="conditions_split",
                column="test",
            )
        )
    return findings


def knockdown_efficiency(
    de_table: pd.DataFrame, design: pd.DataFrame, *, source: str = "raw_design"
) -> pd.DataFrame:
    """The knockdown efficiency of every perturbed gene: its own log2 fold change against
    the condition's controls, where it is measured, and ``escaped`` where the change is not
    the expected way (down for KO/KD, up for OE: an escape or a failed guide).

    Parameters
    ----------
    de_table : pandas.DataFrame
        `labels.differential_expression` rows: ``condition, gene, log2fc`` at least.
    design : pandas.DataFrame
        The design table of the kept conditions.
    source : str
        Named in errors.

    Returns
    -------
    pandas.DataFrame
        One row per (condition, perturbed gene): `EFFICIENCY_COLUMNS`; ``status`` is
        ``ok``, ``escaped`` or ``not measured``.
    """
    lfc = de_table.set_index(["condition", "gene"])["log2fc"]
    rows = []
    for condition in design_conditions(design, source=source):
        types = condition.perturbation_type
        if len(types) == 1:
            types = types * len(condition.perturbation)
        for gene, kind in zip(condition.perturbation, types, strict=True):
            sign = PERTURBATION_SIGN[kind]
            value = lfc.get((condition.name, gene), np.nan)
            measured = bool(np.isfinite(value))
            status = "not measured" if not measured else "ok" if value * sign > 0 else "escaped"
            expected = "down" if sign < 0 else "up"
            rows.append((condition.name, gene, kind, expected, measured, value, status))
    return pd.DataFrame(rows, columns=list(EFFICIENCY_COLUMNS))


def efficiency_findings(efficiency: pd.DataFrame) -> list[Finding]:
    """Perturbed genes whose own expression does not move the expected way, and those not
    measured (no efficiency to report)."""
    escaped = efficiency[efficiency["status"].eq("escaped")]
    unmeasured = int(efficiency["status"].eq("not measured").sum())
    measured = len(efficiency) - unmeasured
    if len(escaped):
        first = escaped.iloc[0]
        shown = ", ".join(
            f"{c} ({g}: log2FC {v:+.2f}, expected {e})"
            for c, g, v, e in escaped[["condition", "gene", "log2fc", "expected"]].head(5).values
        )
        more = f" and {len(escaped) - 5} more" if len(escaped) > 5 else ""
        finding = Finding(
            "knockdown.escaped",
            "warn",
            len(escaped),
            f"{len(escaped)} of {measured} measured perturbed genes do not change the "
            f"expected way against their controls (escape or failed guide): {shown}{more}",
            source="raw_design",
            column="perturbation",
            row=first["condition"],
            gene=str(first["gene"]),
        )
    else:
        finding = Finding("knockdown.escaped", "ok", 0, f"all {measured} measured perturbed genes")
    return [
        finding,
        Finding(
            "knockdown.not_measured",
            "ok",
            unmeasured,
            "perturbed genes without an expression value: no efficiency",
        ),
    ]


def inconsistency_summary(report: pd.DataFrame) -> list[Finding]:
    """The knowledge_base pipeline's inconsistency report (Figure 1), as report rows; a
    warning when deduction saturates (``kb_saturated``)."""
    values = dict(zip(report["measure"], report["value"], strict=True))
    return [
        _saturation(values)
        if m == "kb_saturated"
        else Finding(f"inconsistency.{m}", "ok", float(v), "data-knowledge relations (Figure 1)")
        for m, v in values.items()
    ]


def _saturation(values: dict[str, float]) -> Finding:
    median = values.get("kb_changed_share_median", np.nan)
    if not values["kb_saturated"]:
        return Finding("inconsistency.kb_saturated", "ok", 0.0, "δ_KB does not saturate")
    return Finding(
        "inconsistency.kb_saturated",
        "warn",
        1.0,
        f"δ_KB saturates: the median input changes {median:.0%} of the measured genes (more "
        f"than {SATURATED_SHARE:.0%}), so the KB says little beyond 'everything changes'; "
        "raise knowledge_base.abstention.balance (0 turns abstention off) or lower k",
        source="parameters",
        column="knowledge_base.abstention",
    )


def agreement_summary(summary: dict[str, float]) -> list[Finding]:
    """The data-knowledge sign agreement (`sign_agreement`), as report rows."""
    detail = (
        "entries δ_KB deduces to change whose measured log2 fold change has the deduced "
        "sign (threshold-free; perturbed genes and unmeasured genes left out)"
    )
    return [
        Finding(f"inconsistency.sign_{name}", "ok", float(value), detail)
        for name, value in summary.items()
    ]


def report_table(findings: Sequence[Finding]) -> pd.DataFrame:
    """One row per finding, `REPORT_COLUMNS`; the location columns are empty where a
    finding names no place."""
    return pd.DataFrame(
        [tuple(getattr(f, name) for name in REPORT_COLUMNS) for f in findings],
        columns=list(REPORT_COLUMNS),
    )


def report_findings(report: pd.DataFrame) -> list[Finding]:
    """The findings of a report table (`report_table`, also as read back from its CSV)."""

    def text(value: object) -> str | None:
        if pd.isna(value):
            return None
        whole = isinstance(value, float) and value.is_integer()
        return str(int(value)) if whole else str(value)  # a CSV reads "3" back as 3.0

    return [
        Finding(
            str(r["check"]),
            str(r["status"]),
            float(r["value"]),
            str(r["detail"]),
            **{name: text(r.get(name)) for name in ("source", "column", "row", "gene")},
        )
        for _, r in report.iterrows()
    ]


def raise_on_errors(findings: Sequence[Finding]) -> None:
    """Log every warning and error; raise the first error as an `InputError`."""
    errors = [f for f in findings if f.status == "error"]
    for f in findings:
        if f.status != "ok":
            log.warning("validation %s (%s): %s", f.check, f.status, f.detail)
    if errors:
        first = errors[0]
        others = f" ({len(errors) - 1} more validation errors logged)" if len(errors) > 1 else ""
        raise InputError(
            f"validation failed, {first.check}: {first.detail}{others}",
            source=first.source,
            column=first.column,
            row=first.row,
            gene=first.gene,
        )
