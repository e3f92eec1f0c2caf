"""Ternary response labels y in {-1, 0, 1}^n from expression.

Each perturbed condition is tested against its matched control samples: log2 fold change
plus a per-gene test, Benjamini-Hochberg FDR across genes within the condition.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from aligned_kedro.core.data.design import (
    DEFAULT_DESIGN_SOURCE,
    DEFAULT_EXPRESSION_SOURCE,
    PERTURBATION_SIGN,
    design_conditions,
    validate_design,
)
from aligned_kedro.core.data.statistics import benjamini_hochberg, moderated_t, welch_t
from aligned_kedro.core.errors import InputError

DE_COLUMNS: tuple[str, ...] = ("condition", "gene", "log2fc", "t", "p", "q", "df")

DEFAULT_DE_SOURCE = "differential expression table"


def perturbation_matrix(
    design: pd.DataFrame, genes: Sequence[str], *, source: str = DEFAULT_DESIGN_SOURCE
) -> tuple[list[str], np.ndarray]:
    """Inputs x in {-1, 0, 1}^n per condition: -1 for KO/KD, +1 for OE, multi-hot (section 2.1).

    Parameters
    ----------
    design : pandas.DataFrame
        The design table (``sample_id, condition, role, perturbation, perturbation_type,
        control_group``).
    genes : sequence of str
        The n gene IDs of the columns, unique.
    source : str
        Named in errors.

    Returns
    -------
    conditions : list of str
        The m perturbed conditions, in order of first appearance.
    x : numpy.ndarray, shape (m, n), int8
        -1 for a knocked-out or knocked-down gene, 1 for an overexpressed one, else 0.
    """
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


NON_FINITE = ("error", "drop_gene")
NON_FINITE_COLUMNS = ("gene_id", "n_non_finite", "samples")


def finite_genes(
    expression: pd.DataFrame,
    *,
    non_finite: Literal["error", "drop_gene"] = "error",
    source: str = DEFAULT_EXPRESSION_SOURCE,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The genes x samples table without missing or non-finite values: such a value raises
    (``error``), or its gene is dropped from every sample and listed (``drop_gene``). A
    value that is not a number always raises.

    Parameters
    ----------
    expression : pandas.DataFrame
        genes x samples.
    non_finite : {"error", "drop_gene"}
    source : str
        Named in errors.

    Returns
    -------
    expression : pandas.DataFrame
        The rows of the genes whose values are all finite (`expression` itself when
        every value is).
    dropped : pandas.DataFrame
        ``gene_id, n_non_finite, samples`` (up to 5, ``;``-joined) of each dropped gene.
    """
    if non_finite not in NON_FINITE:
        raise InputError(
            f"non_finite must be one of {list(NON_FINITE)}, got {non_finite!r}",
            source="parameters",
            column="data_processing.expression.non_finite",
        )
    values = expression.apply(pd.to_numeric, errors="coerce")
    text = values.isna() & expression.notna()
    if text.to_numpy().any():
        row, col = np.argwhere(text.to_numpy())[0]
        gene = str(expression.index[row])
        raise InputError(
            f"non-numeric expression value {expression.iat[row, col]!r}",
            source=source,
            column=str(expression.columns[col]),
            row=gene,
            gene=gene,
        )
    bad = ~np.isfinite(values.to_numpy(dtype=float))
    genes = np.flatnonzero(bad.any(axis=1))
    if len(genes) and non_finite == "error":
        row = int(genes[0])
        gene = str(expression.index[row])
        sample = str(expression.columns[int(np.argmax(bad[row]))])
        raise InputError(
            f"missing or non-finite expression value {values.iat[row, int(np.argmax(bad[row]))]}"
            f" ({len(genes)} genes have one; data_processing.expression.non_finite: drop_gene "
            "drops them)",
            source=source,
            column=sample,
            row=gene,
            gene=gene,
        )
    columns = np.asarray(expression.columns.astype(str))
    dropped = pd.DataFrame(
        [
            (str(expression.index[g]), int(bad[g].sum()), ";".join(columns[bad[g]][:5]))
            for g in genes
        ],
        columns=list(NON_FINITE_COLUMNS),
    )
    return (expression.loc[~bad.any(axis=1)] if len(genes) else expression), dropped


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
    """Per-condition differential expression against matched controls.

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

    Parameters
    ----------
    expression : pandas.DataFrame
        genes x samples, log2 scale.
    design : pandas.DataFrame
        The design table, checked against `expression` (`validate_design`).
    test : {"moderated", "welch"}
    source_expression, source_design : str
        Named in errors.

    Returns
    -------
    pandas.DataFrame
        One row per (perturbed condition, gene): ``condition, gene, log2fc, t, p, q, df``.
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
    """Labels y in {-1, 0, 1} (section 2.1): sign(log2fc) where |log2fc| > lfc_threshold and
    q < fdr, else 0. Returns conditions x genes, int8, in order of first appearance.

    Parameters
    ----------
    de_table : pandas.DataFrame
        `differential_expression` output (``condition, gene, log2fc, q`` at least).
    lfc_threshold : float
        >= 0.
    fdr : float
        In (0, 1].
    source : str
        Named in errors.

    Returns
    -------
    pandas.DataFrame, shape (m conditions, n genes), int8
        y in {-1, 0, 1}.
    """
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
