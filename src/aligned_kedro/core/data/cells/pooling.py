"""Pseudobulk: cells pooled into samples per condition and replicate, labelled later by
the same differential-expression test as bulk data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from aligned_kedro.core.data.cells._matrix import (
    Scale,
    check_scale,
    checked_matrix,
    condition_sizes,
)
from aligned_kedro.core.data.cells.conditions import CONTROL_GROUP


def _groups(
    cells: pd.DataFrame,
    replicates: pd.Series | None,
    n_pseudo: int,
    seed: int,
) -> pd.Series:
    """Per cell, the sample it is pooled into: ``<condition>__<replicate>``."""
    if replicates is not None:
        return cells["condition"] + "__" + replicates.astype(str).to_numpy()
    rng = np.random.default_rng(seed)
    group = np.empty(len(cells), dtype=object)
    for condition, index in cells.groupby("condition", sort=True).indices.items():
        order = rng.permutation(index)
        parts = np.array_split(order, min(n_pseudo, len(order)))
        for r, part in enumerate(parts, start=1):
            group[part] = f"{condition}__r{r}"
    return pd.Series(group, index=cells.index)


BLOCK_VALUES = 1 << 22


def _row_blocks(matrix: sp.csr_matrix) -> list[slice]:
    """Consecutive row ranges of about `BLOCK_VALUES` stored values each: a float32 X is
    summed in float64 a block at a time, never converted whole."""
    bounds = (
        np.searchsorted(matrix.indptr, np.arange(0, matrix.nnz, BLOCK_VALUES), side="right") - 1
    )
    bounds = np.unique(np.append(bounds, matrix.shape[0]))
    if bounds[0] != 0:
        bounds = np.insert(bounds, 0, 0)
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _pool(
    matrix: sp.csr_matrix,
    rows: np.ndarray,
    group: pd.Series,
    scale: Scale,
    pseudocount: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Samples (sorted group names), their log2 values (samples x genes) and cell counts
    of the cells at `rows` of `matrix`: counts summed into log2(CPM + pseudocount), log1p /
    log2 values averaged into log2. The other rows take no part (and are not copied)."""
    samples, codes = np.unique(group.to_numpy().astype(str), return_inverse=True)
    pool = sp.csc_matrix(
        (np.ones(len(codes)), (codes, rows)), shape=(len(samples), matrix.shape[0])
    )
    summed = np.zeros((len(samples), matrix.shape[1]))
    for block in _row_blocks(matrix):
        summed += (pool[:, block] @ matrix[block]).toarray()
    n_cells = np.asarray(pool.sum(axis=1)).ravel()
    if scale == "counts":
        library = summed.sum(axis=1, keepdims=True)
        library[library == 0] = 1.0
        return samples, np.log2(summed / library * 1e6 + pseudocount), n_cells
    values = summed / n_cells[:, None] / (np.log(2) if scale == "log1p" else 1.0)
    return samples, values, n_cells


def _pseudobulk_design(
    cells: pd.DataFrame, group: pd.Series, samples: np.ndarray, n_cells: np.ndarray
) -> pd.DataFrame:
    """The design table of the pooled samples, controls in one control group."""
    first = cells.groupby(group.to_numpy()).first().loc[samples]
    control = first["is_control"].to_numpy()
    return pd.DataFrame(
        {
            "sample_id": samples,
            "condition": np.where(control, "ctrl__" + CONTROL_GROUP, first["condition"]),
            "role": np.where(control, "control", "perturbed"),
            "perturbation": first["perturbation"].to_numpy(),
            "perturbation_type": first["perturbation_type"].to_numpy(),
            "control_group": CONTROL_GROUP,
            "n_cells": n_cells.astype(int),
        }
    )


def pseudobulk(
    X: np.ndarray | sp.spmatrix,
    genes: Sequence[str],
    cells: pd.DataFrame,
    *,
    scale: Scale = "counts",
    pseudo_replicates: int = 3,
    replicates: pd.Series | None = None,
    min_cells: int = 10,
    too_few_cells: Literal["drop", "error"] = "drop",
    pseudocount: float = 1.0,
    seed: int = 0,
    source: str = "cells",
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Pool cells into samples: the expression table (genes x samples, log2 scale), the
    design table of `aligned_kedro.core.data.labels` and a per-condition report.

    Samples are the cells of a condition within one ``replicates`` value (e.g. a GEM
    group), or, without them, ``pseudo_replicates`` seeded random parts of the condition.
    ``counts`` are summed and turned into log2(CPM + pseudocount); ``log1p`` (natural
    log, scanpy) and ``log2`` values are averaged and expressed in log2. Conditions with
    fewer than ``min_cells`` cells are dropped and listed, or raise.

    Parameters
    ----------
    X : numpy.ndarray or scipy.sparse matrix, shape (cells, n)
        Non-negative, finite expression of the cells, on `scale`.
    genes : sequence of str
        The n gene IDs of the columns.
    cells : pandas.DataFrame
        `cell_conditions` of the cells, one row per row of X.
    scale, pseudo_replicates, replicates, min_cells, too_few_cells, pseudocount, seed
        As above; `replicates` is indexed like `cells`.
    source : str
        The cell table named in errors.

    Returns
    -------
    expression : pandas.DataFrame
        n genes x samples, log2 scale.
    design : pandas.DataFrame
        One row per sample: ``sample_id, condition, role, perturbation,
        perturbation_type, control_group, n_cells``.
    report : pandas.DataFrame
        Per condition: ``condition, n_cells, status, n_samples``.
    """
    check_scale(scale)
    matrix = checked_matrix(X, genes, cells, source)
    sizes, small = condition_sizes(cells, min_cells, too_few_cells, source, "pseudobulk")
    keep = ~cells["condition"].isin(small.index).to_numpy()
    cells = cells[keep]
    group = _groups(
        cells, None if replicates is None else replicates[keep], pseudo_replicates, seed
    )
    samples, values, n_cells = _pool(matrix, np.flatnonzero(keep), group, scale, pseudocount)
    expression = pd.DataFrame(values.T, index=pd.Index(genes, name="gene"), columns=samples)
    design = _pseudobulk_design(cells, group, samples, n_cells)
    report = pd.DataFrame(
        {
            "condition": sizes.index,
            "n_cells": sizes.to_numpy(),
            "status": np.where(sizes.index.isin(small.index), "fewer than min_cells", "kept"),
        }
    )
    report["n_samples"] = (
        report["condition"]
        .map(design.groupby(design["sample_id"].str.rsplit("__", n=1).str[0]).size())
        .fillna(0)
        .astype(int)
    )
    return expression, design, report
