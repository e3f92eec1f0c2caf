"""Per-cell labels: each sampled perturbed cell against a control cell drawn from its own
batch, both on the log2 scale."""

from __future__ import annotations

import logging
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
from aligned_kedro.core.errors import InputError

log = logging.getLogger(__name__)


def log2_cell_values(
    matrix: sp.csr_matrix, library: np.ndarray, scale: Scale, target_sum: float
) -> np.ndarray:
    """Dense log2 values of a few cells: counts as log2(x / library * target_sum + 1)."""
    values = matrix.toarray().astype(np.float64, copy=False)
    if scale == "counts":
        return np.log2(values / library[:, None] * target_sum + 1.0)
    return values / np.log(2) if scale == "log1p" else values


def matched_controls(
    cells: pd.DataFrame,
    perturbed: np.ndarray,
    sampled: np.ndarray,
    batches: pd.Series | None,
    rng: np.random.Generator,
    batch_column: str | None,
    source: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Per sampled cell, a random control cell (with replacement) of its own batch; a
    perturbed cell in a batch without control cells raises."""
    controls = np.flatnonzero(cells["is_control"].to_numpy())
    if batches is None:
        draw = controls[rng.integers(len(controls), size=len(sampled))]
        return draw, np.full(len(sampled), "", dtype=object)
    batch = batches.astype(str).to_numpy()
    by_batch = {
        b: controls[i]
        for b, i in pd.Series(batch[controls]).groupby(batch[controls]).indices.items()
    }
    orphans = np.flatnonzero(perturbed & ~np.isin(batch, list(by_batch)))
    if len(orphans):
        cell = orphans[0]
        raise InputError(
            f"no control cells in batch {batch[cell]!r} of condition "
            f"{cells['condition'].iat[cell]!r} ({len(orphans)} perturbed cells in batches "
            "without controls): per-cell labels draw the control from the cell's own batch",
            source=source,
            column=batch_column,
            row=str(cells.index[cell]),
            gene=str(cells["condition"].iat[cell]),
        )
    matched = np.empty(len(sampled), dtype=np.int64)
    for value, where in pd.Series(batch[sampled]).groupby(batch[sampled]).indices.items():
        pool = by_batch[value]
        matched[where] = pool[rng.integers(len(pool), size=len(where))]
    return matched, batch[sampled].astype(object)


def sample_cells(
    cells: pd.DataFrame, perturbed: np.ndarray, n_cells: int | None, rng: np.random.Generator
) -> np.ndarray:
    """Positions of the sampled cells: per condition (sorted) of the `perturbed` cells,
    `n_cells` drawn without replacement and kept in order (all of a smaller one)."""
    positions = np.flatnonzero(perturbed)
    picks = [np.empty(0, dtype=np.int64)]
    for index in cells.iloc[positions].groupby("condition", sort=True).indices.values():
        chosen = positions[index]
        if n_cells is not None and len(chosen) > n_cells:
            chosen = np.sort(rng.choice(chosen, size=n_cells, replace=False))
        picks.append(chosen)
    return np.concatenate(picks)


def pair_labels(
    matrix: sp.csr_matrix,
    sampled: np.ndarray,
    matched: np.ndarray,
    scale: Scale,
    target_sum: float,
    threshold: float,
    chunk: int,
) -> np.ndarray:
    """sign(x_cell - x_control) where the difference exceeds `threshold`, else 0, as a
    len(sampled) x genes int8 matrix, `chunk` pairs made dense at a time."""
    library = np.asarray(matrix.sum(axis=1, dtype=np.float64)).ravel()
    library[library == 0] = 1.0
    labels = np.zeros((len(sampled), matrix.shape[1]), dtype=np.int8)
    for start in range(0, len(sampled), chunk):
        a, b = sampled[start : start + chunk], matched[start : start + chunk]
        diff = log2_cell_values(matrix[a], library[a], scale, target_sum) - log2_cell_values(
            matrix[b], library[b], scale, target_sum
        )
        labels[start : start + chunk] = np.where(np.abs(diff) > threshold, np.sign(diff), 0)
    return labels


def pair_rows(
    cells: pd.DataFrame,
    sampled: np.ndarray,
    matched: np.ndarray,
    batch: np.ndarray,
    source: str,
) -> pd.DataFrame:
    """``row`` (``<condition>@<cell>``), condition, cell, control_cell and batch of each
    pair; a cell name used twice raises."""
    condition = cells["condition"].to_numpy()[sampled]
    cell = cells.index.to_numpy()[sampled].astype(str)
    rows = pd.DataFrame(
        {
            "row": pd.Series(condition, dtype=object) + "@" + cell,
            "condition": condition,
            "cell": cell,
            "control_cell": cells.index.to_numpy()[matched].astype(str),
            "batch": batch,
        }
    )
    if rows["row"].duplicated().any():
        duplicated = rows.loc[rows["row"].duplicated(), "cell"].iloc[0]
        raise InputError("duplicate cell name in obs", source=source, row=duplicated)
    return rows


def _check_per_cell_options(scale: str, threshold: float, n_cells: int | None) -> None:
    check_scale(scale)
    if not threshold >= 0:
        raise InputError(
            f"threshold must be >= 0, got {threshold}", source="parameters", column="threshold"
        )
    if n_cells is not None and n_cells < 1:
        raise InputError(
            f"n_cells must be at least 1 or null, got {n_cells}",
            source="parameters",
            column="n_cells",
        )


def per_cell_labels(
    X: np.ndarray | sp.spmatrix,
    genes: Sequence[str],
    cells: pd.DataFrame,
    *,
    scale: Scale = "counts",
    n_cells: int | None = 50,
    threshold: float = 1.0,
    target_sum: float = 1e4,
    batches: pd.Series | None = None,
    batch_column: str | None = None,
    min_cells: int = 10,
    too_few_cells: Literal["drop", "error"] = "drop",
    seed: int = 0,
    chunk: int = 1024,
    source: str = "cells",
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Per-cell labels y = sign(x_cell - x_control) where |x_cell - x_control| > threshold,
    else 0 (the labels of section 2.1; the reference implementation's per-cell labels use no
    threshold): one row per sampled perturbed cell, x on the log2 scale.

    ``n_cells`` cells of each condition are drawn with the seed (all of a smaller one;
    null: all); each is compared with a random control cell, of its own ``batches`` value
    when given (a perturbed cell in a batch without controls raises). ``counts`` become
    log2(x / library * target_sum + 1) per cell, ``log1p`` values log2. Conditions with
    fewer than ``min_cells`` cells are dropped as in `pseudobulk`. Only the sampled cells
    and their controls are made dense, ``chunk`` rows at a time.

    Parameters
    ----------
    X : numpy.ndarray or scipy.sparse matrix, shape (cells, n)
        Non-negative, finite expression of the cells, on `scale`.
    genes : sequence of str
        The n gene IDs of the columns.
    cells : pandas.DataFrame
        `cell_conditions` of the cells, one row per row of X.
    scale, n_cells, threshold, target_sum, min_cells, too_few_cells, seed, chunk
        As above.
    batches : pandas.Series, optional
        Per cell (indexed like `cells`), the batch its control is drawn from;
        `batch_column` names it in errors.
    source : str
        The cell table named in errors.

    Returns
    -------
    labels : pandas.DataFrame
        rows x n, int8 in {-1, 0, 1}; index ``row`` = ``<condition>@<cell>``.
    rows : pandas.DataFrame
        Per row: ``row, condition, cell, control_cell, batch``.
    report : pandas.DataFrame
        Per condition: ``condition, n_cells, n_sampled`` (for the controls, the distinct
        control cells drawn).
    """
    _check_per_cell_options(scale, threshold, n_cells)
    matrix = checked_matrix(X, genes, cells, source)
    sizes, small = condition_sizes(cells, min_cells, too_few_cells, source, "per-cell labels")
    rng = np.random.default_rng(seed)
    dropped = cells["condition"].isin(small.index).to_numpy()
    perturbed = ~cells["is_control"].to_numpy() & ~dropped
    sampled = sample_cells(cells, perturbed, n_cells, rng)
    matched, batch = matched_controls(cells, perturbed, sampled, batches, rng, batch_column, source)
    labels = pair_labels(matrix, sampled, matched, scale, target_sum, threshold, chunk)
    rows = pair_rows(cells, sampled, matched, batch, source)
    table = pd.DataFrame(labels, index=pd.Index(rows["row"], name="row"), columns=list(genes))
    report = pd.DataFrame({"condition": sizes.index, "n_cells": sizes.to_numpy()})
    report["n_sampled"] = report["condition"].map(rows["condition"].value_counts())
    report.loc[report["condition"].eq(CONTROL_GROUP), "n_sampled"] = rows["control_cell"].nunique()
    report["n_sampled"] = report["n_sampled"].fillna(0).astype(int)
    log.info(
        "per-cell labels: %d cells of %d conditions sampled (n_cells = %s), %d cells of these "
        "conditions not sampled, %d distinct control cells; %d labels down, %d up of %d",
        len(rows),
        rows["condition"].nunique(),
        n_cells,
        int(perturbed.sum()) - len(rows),
        rows["control_cell"].nunique(),
        int((labels == -1).sum()),
        int((labels == 1).sum()),
        labels.size,
    )
    return table, rows, report
