"""Checks of a dataset against its knowledge base before training (section 2.1, Figure 1).

Each check gives a report row (``check, status, value, detail``); ``status`` is ``ok``,
``warn`` or ``error``. `raise_on_errors` turns the first error into an `InputError` that
names the file, column or row and gene.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from aligned_kedro.core.errors import InputError

log = logging.getLogger(__name__)

REPORT_COLUMNS = ("check", "status", "value", "detail")
Severity = Literal["warn", "error"]


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
    """Measured genes in the KB, and perturbed genes without KB regulation.

    A perturbed gene that regulates nothing in the KB gets no symbolic prediction beyond
    itself; the GNN still takes it as an input gene with its own learned embedding.
    """
    in_kb = int(universe["in_kb"].sum())
    findings = [
        Finding("genes.measured", "ok", len(universe), "measured genes (the universe)"),
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
    return findings


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


def inconsistency_summary(report: pd.DataFrame) -> list[Finding]:
    """The knowledge_base pipeline's inconsistency report (Figure 1), as report rows."""
    return [
        Finding(f"inconsistency.{m}", "ok", float(v), "data-knowledge relations (Figure 1)")
        for m, v in zip(report["measure"], report["value"], strict=True)
    ]


def report_table(findings: Sequence[Finding]) -> pd.DataFrame:
    return pd.DataFrame(
        [(f.check, f.status, f.value, f.detail) for f in findings], columns=list(REPORT_COLUMNS)
    )


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
