"""Cells that escaped their perturbation (``cells.escape_filter``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aligned_kedro.core.data.cells import cell_conditions, escaped_cells
from aligned_kedro.core.errors import InputError

GENES = ["A_id", "B_id", "C_id"]
COLUMNS = {"A": 0, "B": 1, "C": 2}


def screen(kind: str = "CRISPRi") -> tuple[np.ndarray, pd.DataFrame]:
    """Four control cells (A at 10, B at 0), four A cells (two at 2, two escaped at 10
    and 12), two B cells and two A+C cells (C's control median 0)."""
    labels = ["ctrl"] * 4 + ["A+ctrl"] * 4 + ["B+ctrl"] * 2 + ["A+C"] * 2
    X = np.array(
        [[10, 0, 0]] * 4
        + [[2, 0, 0], [2, 0, 0], [10, 0, 0], [12, 0, 0]]
        + [[10, 0, 0]] * 2
        + [[1, 0, 5], [11, 0, 5]],
        dtype=float,
    )
    obs = pd.DataFrame({"condition": labels}, index=[f"c{i}" for i in range(len(labels))])
    return X, cell_conditions(obs, perturbation_type_default=kind)


def test_a_knockdown_cell_at_or_above_the_control_median_escapes():
    X, cells = screen()
    escaped, report = escaped_cells(X, GENES, cells, columns=COLUMNS, scale="log2")
    assert cells.index[escaped].tolist() == ["c6", "c7", "c11"]
    counts = report.set_index("condition")
    assert counts.loc["A", "n_escaped"] == 2 and counts.loc["A+C", "n_escaped"] == 1
    # B's control median is 0: too sparse to tell, so no B cell is dropped
    assert counts.loc["B", "n_escaped"] == 0 and counts.loc["B", "n_targets_filtered"] == 0
    assert counts.loc["A+C", "n_targets_filtered"] == 1


def test_an_overexpressed_cell_at_or_below_the_control_median_escapes():
    X, cells = screen("CRISPRa")
    escaped, _ = escaped_cells(X, GENES, cells, columns=COLUMNS, scale="log2")
    assert cells.index[escaped].tolist() == ["c4", "c5", "c6", "c10"]


def test_counts_are_compared_per_library_size_and_none_drops_nothing():
    X, cells = screen()
    doubled = X.copy()
    doubled[7] *= 10  # c7 is an escapee at ten times the depth: still one
    escaped, _ = escaped_cells(doubled + 1, GENES, cells, columns=COLUMNS, scale="counts")
    assert escaped[7]
    kept, report = escaped_cells(X, GENES, cells, columns=COLUMNS, escape_filter="none")
    assert not kept.any() and report["n_escaped"].sum() == 0


def test_an_unknown_escape_filter_is_refused():
    X, cells = screen()
    with pytest.raises(InputError, match="unknown escape filter 'median'.*escape_filter"):
        escaped_cells(X, GENES, cells, columns=COLUMNS, escape_filter="median")
