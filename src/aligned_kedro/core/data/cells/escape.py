"""Escaping cells: perturbed cells whose own target is not knocked down (or, for
overexpression, not raised) against the control cells, dropped before pooling or
per-cell labels when a run asks for it."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from aligned_kedro.core.data.cells._matrix import Scale, check_scale, checked_matrix
from aligned_kedro.core.data.design import PERTURBATION_SIGN
from aligned_kedro.core.errors import InputError

log = logging.getLogger(__name__)

EscapeFilter = Literal["none", "target_expression"]
ESCAPE_FILTERS: tuple[str, ...] = ("none", "target_expression")
ESCAPE_COLUMNS = ("condition", "n_escaped", "n_targets_filtered")


def _normalised(matrix: sp.csr_matrix, scale: Scale, columns: list[int]) -> sp.csc_matrix:
    """The `columns` of `matrix` comparable across cells: counts per library size (of all
    genes); log values as they are. Only these columns are copied."""
    selected = matrix[:, columns]
    if scale != "counts":
        return sp.csc_matrix(selected, dtype=np.float64)
    library = np.asarray(matrix.sum(axis=1, dtype=np.float64)).ravel()
    library[library == 0] = 1.0
    return sp.csc_matrix(sp.diags(1.0 / library) @ selected)


def escaped_cells(
    X: np.ndarray | sp.spmatrix,
    genes: Sequence[str],
    cells: pd.DataFrame,
    *,
    columns: Mapping[str, int],
    scale: Scale = "counts",
    escape_filter: EscapeFilter = "target_expression",
    source: str = "cells",
) -> tuple[np.ndarray, pd.DataFrame]:
    """Cells that escaped their perturbation: a knocked-out or knocked-down (KO, KD) cell
    whose perturbed gene is expressed at or above the control cells' median, an
    overexpressed (OE) one at or below it; a cell of several perturbed genes escapes when
    one of them does. Genes whose control median is 0 (too sparse to tell) and names
    without a column are not filtered and are counted per condition.

    Parameters
    ----------
    X : numpy.ndarray or scipy.sparse matrix, shape (cells, n)
        Non-negative, finite expression of the cells, on `scale`.
    genes : sequence of str
        The n gene IDs of the columns.
    cells : pandas.DataFrame
        `cell_conditions` of the cells, one row per row of X.
    columns : mapping of str to int
        Perturbation name (as in ``cells.perturbation``) -> its column of X.
    scale : {"counts", "log1p", "log2"}
        Counts are compared per library size.
    escape_filter : {"none", "target_expression"}
        ``none`` marks no cell.
    source : str
        The cell table named in errors.

    Returns
    -------
    escaped : numpy.ndarray of bool, shape (cells,)
    report : pandas.DataFrame
        Per perturbed condition: ``condition, n_escaped, n_targets_filtered`` (how many
        of its genes could be tested against the controls).
    """
    if escape_filter not in ESCAPE_FILTERS:
        raise InputError(
            f"unknown escape filter {escape_filter!r}; expected one of {list(ESCAPE_FILTERS)}",
            source="parameters",
            column="escape_filter",
        )
    escaped = np.zeros(len(cells), dtype=bool)
    control = cells["is_control"].to_numpy()
    if escape_filter == "none":
        conditions = sorted(cells.loc[~control, "condition"].unique())
        return escaped, pd.DataFrame(
            {"condition": conditions, "n_escaped": 0, "n_targets_filtered": 0},
            columns=list(ESCAPE_COLUMNS),
        )
    check_scale(scale)
    perturbed_names = cells.loc[~control, "perturbation"].astype(str).unique()
    targets = sorted({columns[n] for p in perturbed_names for n in p.split("+") if n in columns})
    target = {column: j for j, column in enumerate(targets)}
    matrix = _normalised(checked_matrix(X, genes, cells, source), scale, targets)
    controls = matrix[control]
    medians: dict[int, float] = {}
    rows = []
    for condition, index in cells[~control].groupby("condition", sort=True).indices.items():
        positions = np.flatnonzero(~control)[index]
        first = cells.iloc[positions[0]]
        names = str(first["perturbation"]).split("+")
        sign = PERTURBATION_SIGN[str(first["perturbation_type"])]
        tested = 0
        for name in names:
            column = columns.get(name)
            if column is None:
                continue
            if column not in medians:
                medians[column] = float(np.median(controls[:, target[column]].toarray()))
            median = medians[column]
            if median <= 0:
                continue
            tested += 1
            values = matrix[:, target[column]][positions].toarray().ravel()
            escaped[positions] |= values >= median if sign < 0 else values <= median
        rows.append((condition, int(escaped[positions].sum()), tested))
    report = pd.DataFrame(rows, columns=list(ESCAPE_COLUMNS))
    log.info(
        "escape filter: %d of %d perturbed cells escaped their perturbation (%d of %d "
        "conditions with a gene to test)",
        int(escaped.sum()),
        int((~control).sum()),
        int(report["n_targets_filtered"].gt(0).sum()),
        len(report),
    )
    return escaped, report
