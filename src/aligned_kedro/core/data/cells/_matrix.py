"""The cells x genes matrix and the cells per condition, checked once for pooling and
per-cell labels alike."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from aligned_kedro.core.data.cells.conditions import CONTROL_GROUP
from aligned_kedro.core.errors import InputError

log = logging.getLogger(__name__)

Scale = Literal["counts", "log1p", "log2"]
SCALES: tuple[str, ...] = ("counts", "log1p", "log2")


def check_scale(scale: str) -> None:
    """The expression scale is one `pooling` and `per_cell` know."""
    if scale not in SCALES:
        raise InputError(
            f"unknown scale {scale!r}; expected counts, log1p or log2",
            source="parameters",
            column="scale",
        )


def checked_matrix(
    X: np.ndarray | sp.spmatrix, genes: Sequence[str], cells: pd.DataFrame, source: str
) -> sp.csr_matrix:
    """Cells x genes as CSR; a wrong shape or a negative, NaN or infinite value raises.

    A float32 or float64 CSR matrix (as an h5ad's X loads) is used as it is, not copied:
    a Norman-sized screen's X is over a gigabyte. Other input becomes float64.
    """
    matrix = sp.csr_matrix(X)
    if matrix.dtype not in (np.float32, np.float64):
        matrix = matrix.astype(np.float64)
    if matrix.shape != (len(cells), len(genes)):
        raise InputError(
            f"matrix of shape {matrix.shape} for {len(cells)} cells and {len(genes)} genes",
            source=source,
        )
    data = matrix.data
    if not np.isfinite(data).all() or (data < 0).any():
        bad = ~np.isfinite(data) | (data < 0)
        position = int(np.flatnonzero(bad)[0])
        row = int(np.searchsorted(matrix.indptr, position, side="right") - 1)
        gene = str(genes[matrix.indices[position]])
        kind = "negative" if np.isfinite(data[position]) else "NaN or infinite"
        raise InputError(
            f"{kind} expression value {data[position]}",
            source=source,
            column=gene,
            row=str(cells.index[row]),
            gene=gene,
        )
    return matrix


def condition_sizes(
    cells: pd.DataFrame, min_cells: int, too_few_cells: str, source: str, product: str
) -> tuple[pd.Series, pd.Series]:
    """Cells per condition, and the perturbed conditions with fewer than ``min_cells``
    (logged, or raised with ``too_few_cells: error``); too few control cells raise."""
    sizes = cells.groupby("condition", sort=True).size()
    small = sizes[(sizes < min_cells) & (sizes.index != CONTROL_GROUP)]
    if sizes.get(CONTROL_GROUP, 0) < min_cells:
        raise InputError(
            f"{sizes.get(CONTROL_GROUP, 0)} control cells, fewer than min_cells = {min_cells}",
            source=source,
            row=CONTROL_GROUP,
        )
    if len(small) and too_few_cells == "error":
        raise InputError(
            f"condition has {int(small.iloc[0])} cells, fewer than min_cells = {min_cells}",
            source=source,
            row=str(small.index[0]),
            gene=str(small.index[0]),
        )
    if len(small):
        log.warning(
            "%s: %d conditions with fewer than %d cells dropped", product, len(small), min_cells
        )
    return sizes, small
