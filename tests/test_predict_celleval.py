"""The DE tables of the predict pipeline read by cell-eval itself (its DE comparison).

cell-eval is not a dependency: cell-eval 0.8.2 needs pdex, whose releases declare
numpy >= 2.4.2, scipy >= 1.17.1 and pyarrow >= 23.0.1, newer than the project's pins. Where
it is importable (cell-eval 0.8.2 with pdex 0.3.0, installed without pdex's declared
requirements, runs on the pinned numpy) this test checks the format; where it is absent,
as after ``make test`` on a clean clone (CI), it is skipped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from kedro_datasets.pandas import CSVDataset

from aligned_kedro.core.prediction import de_table

cell_eval = pytest.importorskip("cell_eval")
pl = pytest.importorskip("polars")

GENES = ["b0001", "b0002", "b0003", "b0004"]
OBSERVED = np.array([[1, 0, -1, 0], [0, -1, 0, 1]])
PREDICTED = np.array([[1, 0, 1, 0], [0, -1, 0, 0]])


def written(tmp_path: Path, name: str, values: np.ndarray):
    """A DE table as the catalog's CSV dataset writes it, read back with polars."""
    dataset = CSVDataset(filepath=str(tmp_path / f"{name}.csv"))
    dataset.save(de_table(["c_crp", "c_fnr"], GENES, values))
    return pl.read_csv(tmp_path / f"{name}.csv")


def test_cell_eval_compares_predicted_and_observed_de_tables(tmp_path: Path):
    from cell_eval import initialize_de_comparison
    from cell_eval.metrics._de import DEDirectionMatch, DESigGenesRecall

    comparison = initialize_de_comparison(
        real=written(tmp_path, "test_de_observed", OBSERVED),
        pred=written(tmp_path, "test_de_predicted", PREDICTED),
    )
    assert list(comparison.perturbations) == ["c_crp", "c_fnr"]
    assert DEDirectionMatch()(comparison) == {"c_crp": 0.5, "c_fnr": 0.5}
    assert DESigGenesRecall()(comparison) == {"c_crp": 1.0, "c_fnr": 0.5}
