"""Thin nodes over aligned_kedro.core.data.validation and core.data.splits: the split, the
checks, the knockdown efficiency and the data-knowledge sign agreement, the report, and
the gate that refuses a failed dataset after its report is written."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from aligned_kedro.core import deduce, sign_agreement
from aligned_kedro.core.data import labels as labels_core
from aligned_kedro.core.data import splits, validation
from aligned_kedro.core.errors import InputError
from aligned_kedro.pipelines._common import (
    deduction_options,
    gene_ids,
    gene_names,
    kb_from_table,
    measured_mask,
)

log = logging.getLogger(__name__)


def _condition_genes(
    perturbations: pd.DataFrame, rows: pd.DataFrame | None
) -> tuple[dict[str, list[str]], dict[str, list[str]] | None]:
    """Per condition its perturbed genes; with per-cell ``rows`` also its rows."""
    if rows is None:
        members = None
        first = perturbations
    else:
        members = rows.groupby("condition", sort=False)["row"].apply(list).to_dict()
        first = perturbations.loc[[m[0] for m in members.values()]]
        first.index = pd.Index(list(members), name="condition")
    genes = {str(c): list(first.columns[row != 0]) for c, row in first.iterrows()}
    return genes, members


def _split_options(params: dict[str, Any], seed: int, universe: pd.DataFrame) -> dict[str, Any]:
    """`splits.split_conditions`' options from ``data_processing.split``; its ``seed``
    fixes the split while the run's seed varies the models (null: the run's seed)."""
    return {
        "test_fraction": params["test_fraction"],
        "seed": seed if params.get("seed") is None else int(params["seed"]),
        "test": params.get("test") or (),
        "names": gene_names(universe).astype(str).to_dict(),
        "missing_test": params.get("missing_test", "error"),
        "combo_seen2_fraction": params.get("combo_seen2_fraction"),
    }


def split_conditions(
    perturbations: pd.DataFrame,
    universe: pd.DataFrame,
    params: dict[str, Any],
    seed: int,
    rows: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """The split named by ``strategy`` (`splits.split_conditions`). A strategy that cannot
    split the dataset does not raise here: the split is empty with the reason under
    ``refused``, so validation reports it, writes its report, and then refuses the run.
    With per-cell ``rows`` every list names rows (`splits.expand_groups`): all cells of a
    condition on one side."""
    genes, members = _condition_genes(perturbations, rows)
    options = _split_options(params, seed, universe)
    try:
        split = splits.split_conditions(genes, strategy=params["strategy"], **options)
    except InputError as error:
        return {"strategy": params["strategy"], "train": [], "test": [], "refused": str(error)}
    if split.get("held_out"):
        log.warning("%d conditions held out of train and test", len(split["held_out"]))
    if members is not None:
        split = splits.expand_groups(split, members, source="raw_cells")
    return split


def fold_changes(
    expression: pd.DataFrame, design: pd.DataFrame, params: dict[str, Any]
) -> pd.DataFrame:
    """Per-cell labels: the pseudobulk samples' differential expression, for the knockdown
    efficiency and the sign agreement (pseudobulk labels read the one the labels use)."""
    return labels_core.differential_expression(
        expression,
        design,
        test=params["test"],
        source_expression="raw_cells",
        source_design="raw_cells",
    )


def knockdown_efficiency(
    de_table: pd.DataFrame, design: pd.DataFrame, universe: pd.DataFrame
) -> pd.DataFrame:
    """Per condition and perturbed gene, its own log2 fold change against the controls
    and whether it moved the expected way (`validation.knockdown_efficiency`)."""
    table = validation.knockdown_efficiency(de_table, design)
    table.insert(2, "gene_name", table["gene"].map(gene_names(universe)))
    escaped = table[table["status"].eq("escaped")]
    if len(escaped):
        log.warning(
            "knockdown efficiency: %d perturbed genes do not change the expected way: %s",
            len(escaped),
            escaped["condition"].head(10).tolist(),
        )
    return table


def kb_sign_agreement(
    kb_table: pd.DataFrame,
    universe: pd.DataFrame,
    design: pd.DataFrame,
    de_table: pd.DataFrame,
    k: int,
    params: dict[str, Any],
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Among the genes δ_KB deduces to change, the share whose measured log2 fold change
    has the deduced sign: overall, and per perturbed regulator over its direct targets
    (`sign_agreement`). Threshold-free, so it speaks where no gene is significant."""
    genes = gene_ids(universe)
    conditions, x = labels_core.perturbation_matrix(design, genes, source="design_table")
    lfc = (
        de_table.pivot(index="condition", columns="gene", values="log2fc")
        .reindex(index=conditions, columns=genes)
        .to_numpy(dtype=float)
    )
    kb = kb_from_table(kb_table, universe)
    deduced = deduce(kb, x, k, **deduction_options(params))
    summary, per_regulator = sign_agreement(deduced, lfc, x, kb, genes)
    per_regulator.insert(1, "gene_name", per_regulator["gene"].map(gene_names(universe)))
    log.info("data-knowledge sign agreement at k=%d: %s", k, summary)
    return per_regulator, {name: float(value) for name, value in summary.items()}


def validate_inputs(
    universe: pd.DataFrame,
    perturbations: pd.DataFrame,
    labels: pd.DataFrame,
    edge_report: pd.DataFrame,
    conditions_report: pd.DataFrame,
    design: pd.DataFrame,
    split: dict[str, Any],
    split_params: dict[str, Any],
    seed: int,
    efficiency: pd.DataFrame,
    params: dict[str, Any],
    rows: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every check of the dataset against its KB as report rows; nothing raises here, so
    the report is written even when a check fails (`check_validation` refuses after).
    The labels are checked on the measured genes (latent genes have none)."""
    genes, _ = _condition_genes(perturbations, rows)
    options = _split_options(split_params, seed, universe)
    findings = [
        *validation.kb_coverage(
            universe,
            perturbations,
            edge_report,
            min_kb_genes=params["min_kb_genes"],
            perturbed_outside_kb=params["perturbed_outside_kb"],
        ),
        *validation.replicates(
            conditions_report,
            min_replicates=params["min_replicates"],
            too_few=params["too_few_replicates"],
        ),
        *validation.dropped_perturbations(conditions_report),
        *validation.duplicated_conditions(design),
        *validation.split_support(
            splits.strategy_support(genes, **options), split_params["strategy"]
        ),
        *validation.efficiency_findings(efficiency),
    ]
    if "refused" not in split:
        findings += validation.split_sizes(split, splits.COMBO_SUBSETS)
    findings += validation.label_classes(
        labels.loc[:, measured_mask(universe)],
        split,
        min_changed_share=params["min_changed_share"],
        uninformative=params["uninformative_labels"],
    )
    return validation.report_table(findings)


def validation_report(
    checks: pd.DataFrame, inconsistency: pd.DataFrame, agreement: dict[str, float]
) -> tuple[pd.DataFrame, dict[str, float]]:
    """The checks, the knowledge_base pipeline's inconsistency summary and the sign
    agreement in one report, problems first; its counts and values as metrics."""
    rows = validation.report_table(
        [*validation.inconsistency_summary(inconsistency), *validation.agreement_summary(agreement)]
    )
    report = pd.concat([checks, rows], ignore_index=True)
    order = report["status"].map({"error": 0, "warn": 1}).fillna(2)
    report = report.iloc[np.argsort(order.to_numpy(), kind="stable")].reset_index(drop=True)
    metrics = {
        f"validation.{status}": float(report["status"].eq(status).sum())
        for status in ("ok", "warn", "error")
    }
    values = dict(zip(checks["check"], checks["value"], strict=True))
    values.update({f"sign_{m}": v for m, v in agreement.items()})
    metrics.update({f"validation.{name}": float(v) for name, v in values.items() if np.isfinite(v)})
    return report, metrics


def split_statistics(split: dict[str, Any]) -> dict[str, float]:
    """The split's sizes, logged with the run: conditions (and per-cell rows) per side."""
    conditions = split.get("conditions", split)
    stats = {
        "data.train_conditions": len(conditions["train"]),
        "data.test_conditions": len(conditions["test"]),
    }
    if "conditions" in split:
        stats.update({"data.train_rows": len(split["train"]), "data.test_rows": len(split["test"])})
    return stats


def check_validation(report: pd.DataFrame, split: dict[str, Any]) -> dict[str, Any]:
    """Refuse the dataset on the report's first error, after the report is written; else
    the split goes on as ``conditions_split``, so training waits for the checks."""
    validation.raise_on_errors(validation.report_findings(report))
    return split
