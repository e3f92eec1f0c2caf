"""Ternary response labels y in {-1, 0, 1}^n from expression (notes section 1 and 8).

Each perturbed condition is tested against its matched control samples: log2 fold change
plus a per-gene test, Benjamini-Hochberg FDR across genes within the condition.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from aligned_kedro.core.data.statistics import benjamini_hochberg, moderated_t, welch_t
from aligned_kedro.core.errors import InputError

DESIGN_COLUMNS: tuple[str, ...] = (
    "sample_id",
    "condition",
    "role",
    "perturbation",
    "perturbation_type",
    "control_group",
)
ROLES: tuple[str, ...] = ("perturbed", "control")
PERTURBATION_SIGN: dict[str, int] = {"KO": -1, "KD": -1, "OE": 1}
PERTURBATION_TYPE_ALIASES: dict[str, str] = {
    **{name: "KO" for name in ("ko", "knockout", "crispr", "crisprko", "crispr-ko", "deletion")},
    **{name: "KD" for name in ("kd", "knockdown", "crispri", "shrna", "sirna", "rnai")},
    **{name: "OE" for name in ("oe", "overexpression", "crispra", "orf", "activation")},
}
DE_COLUMNS: tuple[str, ...] = ("condition", "gene", "log2fc", "t", "p", "q", "df")

DEFAULT_EXPRESSION_SOURCE = "expression table"
DEFAULT_DESIGN_SOURCE = "design table"
DEFAULT_DE_SOURCE = "differential expression table"


@dataclass(frozen=True)
class Condition:
    """One perturbed condition: its perturbation and the samples it is compared on."""

    name: str
    perturbation: tuple[str, ...]
    perturbation_type: tuple[str, ...]
    control_group: str
    perturbed_samples: tuple[str, ...]
    control_samples: tuple[str, ...]


def _text(series: pd.Series) -> pd.Series:
    return series.fillna("").astype(str).str.strip()


def _split_plus(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split("+")) if value else ()


def _normalised_design(design: pd.DataFrame, source: str) -> pd.DataFrame:
    missing = [column for column in DESIGN_COLUMNS if column not in design.columns]
    if missing:
        raise InputError(
            f"design is missing column(s) {missing}; expected {list(DESIGN_COLUMNS)}",
            source=source,
            column=missing[0],
        )
    return pd.DataFrame({column: _text(design[column]) for column in DESIGN_COLUMNS})


def _check_expression_labels(expression: pd.DataFrame, source: str) -> None:
    samples = pd.Index(expression.columns.astype(str))
    duplicated = samples[samples.duplicated()].unique()
    if len(duplicated):
        raise InputError(
            f"duplicate sample column {duplicated[0]!r} in expression",
            source=source,
            column=str(duplicated[0]),
        )
    genes = pd.Index(expression.index.astype(str))
    duplicated = genes[genes.duplicated()].unique()
    if len(duplicated):
        raise InputError(
            f"duplicate gene {duplicated[0]!r} in expression rows",
            source=source,
            row=str(duplicated[0]),
            gene=str(duplicated[0]),
        )


def _check_expression_values(expression: pd.DataFrame, samples: Sequence[str], source: str) -> None:
    columns = pd.Index(expression.columns.astype(str))
    for sample in samples:
        values = expression.iloc[:, columns.get_loc(sample)]
        if not is_numeric_dtype(values) or is_bool_dtype(values):
            coerced = pd.to_numeric(values, errors="coerce")
            bad = values.index[coerced.isna() & values.notna()]
            if len(bad):
                gene = str(bad[0])
                raise InputError(
                    f"non-numeric expression value {values.loc[bad[0]]!r} "
                    f"for gene {gene!r} in sample {sample!r}",
                    source=source,
                    column=sample,
                    row=gene,
                    gene=gene,
                )
            values = coerced
        finite = np.isfinite(values.to_numpy(dtype=float))
        if not finite.all():
            gene = str(values.index[np.argmin(finite)])
            raise InputError(
                f"missing or non-finite expression value for gene {gene!r} in sample {sample!r}",
                source=source,
                column=sample,
                row=gene,
                gene=gene,
            )


def _conditions(table: pd.DataFrame, source: str, *, check_controls: bool) -> list[Condition]:
    perturbed = table[table["role"] == "perturbed"]
    controls = table[table["role"] == "control"]
    shared = sorted(set(perturbed["condition"]) & set(controls["condition"]))
    if shared:
        raise InputError(
            f"condition {shared[0]!r} is used by both perturbed and control samples; "
            "give controls their own condition id and link them through control_group",
            source=source,
            column="condition",
            row=shared[0],
        )
    result: list[Condition] = []
    for name, rows in perturbed.groupby("condition", sort=False):
        name = str(name)
        for column in ("control_group", "perturbation", "perturbation_type"):
            values = rows[column].unique()
            if len(values) > 1:
                raise InputError(
                    f"condition {name!r} has inconsistent {column} values {sorted(values)}",
                    source=source,
                    column=column,
                    row=name,
                )
        first = rows.iloc[0]
        group = first["control_group"]
        control_samples = tuple(controls.loc[controls["control_group"] == group, "sample_id"])
        if check_controls and not control_samples:
            raise InputError(
                f"condition {name!r} has no control samples in its control_group {group!r}",
                source=source,
                column="control_group",
                row=name,
            )
        result.append(
            Condition(
                name=name,
                perturbation=_split_plus(first["perturbation"]),
                perturbation_type=_split_plus(first["perturbation_type"]),
                control_group=group,
                perturbed_samples=tuple(rows["sample_id"]),
                control_samples=control_samples,
            )
        )
    return result


def _check_rows(table: pd.DataFrame, expression_samples: pd.Index | None, source: str) -> None:
    """Known roles, unique non-empty sample ids present in the expression, then each row."""
    unknown_roles = table.loc[~table["role"].isin(ROLES)]
    if len(unknown_roles):
        row = unknown_roles.iloc[0]
        raise InputError(
            f"unknown role {row['role']!r} for sample {row['sample_id']!r}; expected one of "
            f"{list(ROLES)}",
            source=source,
            column="role",
            row=row["sample_id"],
        )
    empty = table.loc[table["sample_id"] == ""]
    if len(empty):
        raise InputError(
            f"empty sample_id in design row {empty.index[0]!r}",
            source=source,
            column="sample_id",
            row=empty.index[0],
        )
    duplicated = table.loc[table["sample_id"].duplicated(), "sample_id"].unique()
    if len(duplicated):
        raise InputError(
            f"duplicate sample {duplicated[0]!r} in design",
            source=source,
            column="sample_id",
            row=duplicated[0],
        )
    if expression_samples is not None:
        known = set(expression_samples)
        absent = [s for s in table["sample_id"] if s not in known]
        if absent:
            raise InputError(
                f"design sample(s) {absent} are absent from the expression columns",
                source=source,
                column="sample_id",
                row=absent[0],
            )
    for row in table.itertuples(index=False):
        _check_row(row, source)


def _check_row(row: Any, source: str) -> None:
    """One design row: condition and control group named, known perturbation types, and
    for a perturbed sample its genes with one type each or one for all."""
    sample = row.sample_id
    if row.condition == "" or row.control_group == "":
        column = "condition" if row.condition == "" else "control_group"
        raise InputError(
            f"empty {column} for sample {sample!r}", source=source, column=column, row=sample
        )
    types = _split_plus(row.perturbation_type)
    for kind in types:
        if kind not in PERTURBATION_SIGN:
            raise InputError(
                f"unknown perturbation_type {kind!r} for sample {sample!r} of condition "
                f"{row.condition!r} (perturbation {row.perturbation!r}); expected one of "
                f"{sorted(PERTURBATION_SIGN)}",
                source=source,
                column="perturbation_type",
                row=sample,
                gene=row.perturbation or None,
            )
    if row.role == "control":
        return
    genes = _split_plus(row.perturbation)
    if not genes or "" in genes:
        raise InputError(
            f"perturbed sample {sample!r} of condition {row.condition!r} names no "
            f"perturbed gene ({row.perturbation!r})",
            source=source,
            column="perturbation",
            row=sample,
        )
    if not types or len(types) not in (1, len(genes)):
        raise InputError(
            f"perturbation_type {row.perturbation_type!r} of sample {sample!r} (condition "
            f"{row.condition!r}) must be one of {sorted(PERTURBATION_SIGN)} or one per "
            f"gene of {row.perturbation!r}",
            source=source,
            column="perturbation_type",
            row=sample,
            gene=row.perturbation,
        )


def validate_design(
    expression: pd.DataFrame,
    design: pd.DataFrame,
    source_expression: str = DEFAULT_EXPRESSION_SOURCE,
    source_design: str = DEFAULT_DESIGN_SOURCE,
) -> None:
    """Check the expression table (genes x samples) and the design table against each other.

    Expression columns not named in the design are ignored (not checked for values).
    """
    table = _normalised_design(design, source_design)
    _check_expression_labels(expression, source_expression)
    samples = pd.Index(expression.columns.astype(str))
    _check_rows(table, samples, source_design)
    _conditions(table, source_design, check_controls=True)
    _check_expression_values(expression, list(table["sample_id"]), source_expression)


def design_conditions(
    design: pd.DataFrame, *, source: str = DEFAULT_DESIGN_SOURCE
) -> list[Condition]:
    """Perturbed conditions of a design, in order of first appearance."""
    table = _normalised_design(design, source)
    _check_rows(table, None, source)
    return _conditions(table, source, check_controls=False)


def perturbation_matrix(
    design: pd.DataFrame, genes: Sequence[str], *, source: str = DEFAULT_DESIGN_SOURCE
) -> tuple[list[str], np.ndarray]:
    """Inputs x in {-1, 0, 1}^n per condition: -1 for KO/KD, +1 for OE, multi-hot (section 1)."""
    gene_index = pd.Index([str(g) for g in genes])
    if gene_index.has_duplicates:
        gene = str(gene_index[gene_index.duplicated()][0])
        raise InputError(f"duplicate gene {gene!r} in the gene list", source=source, gene=gene)
    conditions = design_conditions(design, source=source)
    x = np.zeros((len(conditions), len(gene_index)), dtype=np.int8)
    for i, condition in enumerate(conditions):
        types = condition.perturbation_type
        if len(types) == 1:
            types = types * len(condition.perturbation)
        for gene, kind in zip(condition.perturbation, types, strict=True):
            if gene not in gene_index:
                raise InputError(
                    f"condition {condition.name!r} perturbs gene {gene!r}, which is not among "
                    f"the {len(gene_index)} genes",
                    source=source,
                    column="perturbation",
                    row=condition.name,
                    gene=gene,
                )
            x[i, gene_index.get_loc(gene)] = PERTURBATION_SIGN[kind]
    return [c.name for c in conditions], x


def perturbation_type(value: object, *, source: str, row: object = None) -> str:
    """KO, KD or OE from a perturbation type or its usual names: knockout and CRISPR KO are
    KO (-1), knockdown and CRISPRi are KD (-1), overexpression and CRISPRa are OE (+1)."""
    found = PERTURBATION_TYPE_ALIASES.get(str(value).strip().lower())
    if found is None:
        raise InputError(
            f"unknown perturbation type {value!r}; expected one of "
            f"{sorted(PERTURBATION_TYPE_ALIASES)}",
            source=source,
            column="perturbation_type",
            row=row,
        )
    return found


def log_cpm(
    counts: pd.DataFrame, *, pseudocount: float = 1.0, source: str = DEFAULT_EXPRESSION_SOURCE
) -> pd.DataFrame:
    """log2(counts per million + pseudocount) of a genes x samples count table."""
    values = counts.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        kind = "negative" if np.isfinite(values[row, col]) else "missing or non-numeric"
        raise InputError(
            f"{kind} count {counts.iat[row, col]}",
            source=source,
            column=str(counts.columns[col]),
            row=str(counts.index[row]),
            gene=str(counts.index[row]),
        )
    library = values.sum(axis=0)
    if (library == 0).any():
        sample = str(counts.columns[int(np.argmin(library))])
        raise InputError("sample has no counts", source=source, column=sample)
    cpm = values / library * 1e6
    return pd.DataFrame(np.log2(cpm + pseudocount), index=counts.index, columns=counts.columns)


def _sample_values(
    expression: pd.DataFrame, columns: pd.Index, samples: Sequence[str]
) -> np.ndarray:
    block = expression.iloc[:, columns.get_indexer(list(samples))]
    return block.apply(pd.to_numeric).to_numpy(dtype=float)


def differential_expression(
    expression: pd.DataFrame,
    design: pd.DataFrame,
    *,
    test: Literal["moderated", "welch"] = "moderated",
    source_expression: str = DEFAULT_EXPRESSION_SOURCE,
    source_design: str = DEFAULT_DESIGN_SOURCE,
) -> pd.DataFrame:
    """Per-condition differential expression against matched controls (notes section 8).

    Returns a long table with columns condition, gene, log2fc (perturbed mean - control
    mean), t, p, q (Benjamini-Hochberg across genes within the condition) and df.

    "moderated": limma-style moderated t (Smyth 2004). Per condition the pooled two-group
    residual variance s^2 has d = n1 + n2 - 2; the prior (d0, s0^2) is fitted across genes
    (`fit_variance_prior`); the posterior variance (d0 s0^2 + d s^2) / (d0 + d) gives
    t on d + d0 degrees of freedom. Genes constant in both groups (s^2 = 0, e.g. unexpressed)
    are left out of the prior fit and get the posterior variance d0 s0^2 / (d0 + d) > 0,
    so their t is finite (0 when their means agree). d = 0 raises InputError.

    "welch": scipy's Welch t-test. Its statistic is undefined for genes constant in both
    groups and for every gene of a condition with a single sample in a group (that case
    also warns); these are reported with t = NaN, df = NaN, p = 1, so never called.
    """
    if test not in ("moderated", "welch"):
        raise InputError(f"unknown test {test!r}; expected 'moderated' or 'welch'")
    validate_design(expression, design, source_expression, source_design)
    conditions = design_conditions(design, source=source_design)
    columns = pd.Index(expression.columns.astype(str))
    genes = np.asarray(expression.index.astype(str))
    statistic = moderated_t if test == "moderated" else welch_t
    frames = []
    for condition in conditions:
        a = _sample_values(expression, columns, condition.perturbed_samples)
        b = _sample_values(expression, columns, condition.control_samples)
        t, p, df = statistic(a, b, condition.name, source_design)
        frames.append(
            pd.DataFrame(
                {
                    "condition": condition.name,
                    "gene": genes,
                    "log2fc": a.mean(axis=1) - b.mean(axis=1),
                    "t": t,
                    "p": p,
                    "q": benjamini_hochberg(p),
                    "df": df,
                }
            )
        )
    if not frames:
        return pd.DataFrame({column: pd.Series(dtype=float) for column in DE_COLUMNS})
    return pd.concat(frames, ignore_index=True)


def ternary_labels(
    de_table: pd.DataFrame,
    *,
    lfc_threshold: float = 1.0,
    fdr: float = 0.05,
    source: str = DEFAULT_DE_SOURCE,
) -> pd.DataFrame:
    """Labels y in {-1, 0, 1} (section 1): sign(log2fc) where |log2fc| > lfc_threshold and
    q < fdr, else 0. Returns conditions x genes, int8, in order of first appearance."""
    missing = [c for c in ("condition", "gene", "log2fc", "q") if c not in de_table.columns]
    if missing:
        raise InputError(f"missing column(s) {missing}", source=source, column=missing[0])
    if not lfc_threshold >= 0:
        raise InputError(f"lfc_threshold must be >= 0, got {lfc_threshold}", source=source)
    if not 0 < fdr <= 1:
        raise InputError(f"fdr must be in (0, 1], got {fdr}", source=source)
    duplicated = de_table[["condition", "gene"]].duplicated()
    if duplicated.any():
        row = de_table.loc[duplicated].iloc[0]
        raise InputError(
            f"duplicate (condition, gene) pair ({row['condition']!r}, {row['gene']!r})",
            source=source,
            column="gene",
            row=row["condition"],
            gene=str(row["gene"]),
        )
    log2fc = pd.to_numeric(de_table["log2fc"], errors="coerce").to_numpy(dtype=float)
    q = pd.to_numeric(de_table["q"], errors="coerce").to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        called = (np.abs(log2fc) > lfc_threshold) & (q < fdr)
    label = np.where(called, np.sign(log2fc), 0).astype(np.int8)
    conditions = pd.unique(de_table["condition"])
    genes = pd.unique(de_table["gene"])
    wide = (
        pd.DataFrame({"condition": de_table["condition"], "gene": de_table["gene"], "y": label})
        .pivot(index="condition", columns="gene", values="y")
        .reindex(index=conditions, columns=genes)
    )
    return wide.fillna(0).astype(np.int8).rename_axis(index="condition", columns="gene")
