"""Tests for the consistency metrics of section 3.1 (Eq. 3)."""

from __future__ import annotations

import math
from unittest.mock import patch

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from aligned_kedro.core.errors import InputError
from aligned_kedro.core.evaluation import metrics
from aligned_kedro.core.evaluation.metrics import (
    aggregate_seeds,
    aggregate_table,
    balanced_f1,
    confusion_matrix,
    consistency_scores,
    data_consistency,
    knowledge_consistency,
    macro_f1,
)

label_arrays = st.tuples(st.integers(1, 6), st.integers(1, 12)).flatmap(
    lambda shape: st.tuples(
        hnp.arrays(np.int8, shape, elements=st.sampled_from([-1, 0, 1])),
        hnp.arrays(np.int8, shape, elements=st.sampled_from([-1, 0, 1])),
    )
)
scores = st.floats(1e-3, 1.0)


def brute_force(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    pairs = list(zip(y_true.ravel().tolist(), y_pred.ravel().tolist(), strict=True))
    result: dict = {"precision": {}, "recall": {}, "f1_per_class": {}, "support": {}}
    for c in (-1, 0, 1):
        tp = sum(1 for t, p in pairs if t == c and p == c)
        fp = sum(1 for t, p in pairs if t != c and p == c)
        fn = sum(1 for t, p in pairs if t == c and p != c)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        result["precision"][c], result["recall"][c] = precision, recall
        result["f1_per_class"][c], result["support"][c] = f1, tp + fn
    result["f1"] = sum(result["f1_per_class"].values()) / 3
    return result


@settings(max_examples=200, deadline=None)
@given(label_arrays)
def test_macro_f1_matches_brute_force(arrays):
    y_true, y_pred = arrays
    got, expected = macro_f1(y_true, y_pred), brute_force(y_true, y_pred)
    assert got["f1"] == pytest.approx(expected["f1"], abs=1e-12)
    for key in ("precision", "recall", "f1_per_class"):
        for c in (-1, 0, 1):
            assert got[key][c] == pytest.approx(expected[key][c], abs=1e-12)
    assert got["support"] == expected["support"]


def test_absent_class_stays_in_the_average():
    y_true = np.array([[0, 1], [1, 0]])
    result = macro_f1(y_true, y_true)
    assert result["f1_per_class"] == {-1: 0.0, 0: 1.0, 1: 1.0}
    assert result["precision"][-1] == 0.0 and result["recall"][-1] == 0.0
    assert result["f1"] == pytest.approx(2 / 3)


def test_perfect_prediction_with_all_classes_scores_one():
    y = np.array([[-1, 0, 1], [1, 0, -1]])
    assert macro_f1(y, y)["f1"] == 1.0


def test_macro_f1_rejects_bad_input():
    with pytest.raises(InputError, match="shape"):
        macro_f1(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(InputError, match="labels must be -1, 0 or 1"):
        macro_f1(np.array([0, 2]), np.array([0, 1]))
    with pytest.raises(InputError, match="y_pred"):
        macro_f1(np.array([0, 1]), np.array([0.5, 1]))
    with pytest.raises(InputError, match="empty"):
        macro_f1(np.array([]), np.array([]))


def test_thin_names_delegate_to_macro_f1():
    y = np.array([[1, 0, -1, 0]])
    pred = np.array([[1, 0, 0, 0]])
    kb = np.array([[0, 0, -1, 1]])
    assert data_consistency(y, pred) == macro_f1(y, pred)
    assert knowledge_consistency(kb, pred) == macro_f1(kb, pred)


def test_balanced_f1_paper_table_12():
    # Norman, GNN, A-R. Eq. 3 with gamma = 5 gives 0.571298 and no rounding of the two
    # printed inputs reaches 0.5714 (the table reports seed means), so allow 1.5e-4.
    assert balanced_f1(0.5270, 0.6555) == pytest.approx(0.5714, abs=1.5e-4)
    assert balanced_f1(0.5270, 0.6555) == pytest.approx(
        (0.5 * 0.5270**-5 + 0.5 * 0.6555**-5) ** (-1 / 5), rel=1e-12
    )


@settings(max_examples=200, deadline=None)
@given(scores, scores, st.floats(1.01, 50.0))
def test_balanced_f1_lies_between_the_scores(a, b, gamma):
    value = balanced_f1(a, b, gamma)
    assert min(a, b) - 1e-12 <= value <= max(a, b) + 1e-12
    assert balanced_f1(b, a, gamma) == pytest.approx(value, rel=1e-12)
    assert balanced_f1(a, a, gamma) == pytest.approx(a, rel=1e-12)
    assert value <= 2 * a * b / (a + b) + 1e-12


def test_balanced_f1_zero_and_bad_gamma():
    assert balanced_f1(0.0, 0.7) == 0.0
    assert balanced_f1(0.7, 0.0) == 0.0
    for gamma in (1.0, 0.5, -2.0):
        with pytest.raises(InputError, match="gamma"):
            balanced_f1(0.5, 0.6, gamma)
    with pytest.raises(InputError, match="f1_kb"):
        balanced_f1(0.5, math.nan)


def test_consistency_scores_keys_and_values():
    rng = np.random.default_rng(0)
    y, pred, kb = (rng.integers(-1, 2, (5, 8)) for _ in range(3))
    result = consistency_scores(y, pred, kb)
    classes = ("down", "none", "up")
    expected_keys = {"data_f1", "kb_f1", "balanced_f1"} | {
        f"{p}_{m}_{c}" for p in ("data", "kb") for m in ("precision", "recall") for c in classes
    }
    assert set(result) == expected_keys
    assert result["data_f1"] == macro_f1(y, pred)["f1"]
    assert result["kb_f1"] == macro_f1(kb, pred)["f1"]
    assert result["balanced_f1"] == balanced_f1(result["data_f1"], result["kb_f1"])
    assert result["kb_recall_down"] == macro_f1(kb, pred)["recall"][-1]
    assert all(isinstance(v, float) for v in result.values())


def test_aggregate_seeds_mean_and_sample_sd():
    mean, sd = aggregate_seeds([0.1, 0.2, 0.6])
    assert mean == pytest.approx(0.3)
    assert sd == pytest.approx(np.std([0.1, 0.2, 0.6], ddof=1))
    assert aggregate_seeds([0.42]) == (0.42, 0.0)
    with pytest.raises(InputError):
        aggregate_seeds([])


def test_aggregate_table():
    df = pd.DataFrame(
        {
            "model": ["mlp", "mlp", "mlp", "gnn"],
            "stage": ["A", "A", "A", "A"],
            "f1": [0.1, 0.2, 0.6, 0.5],
        }
    )
    table = aggregate_table(df, ["model", "stage"], ["f1"])
    assert list(table.columns) == ["model", "stage", "n", "f1_mean", "f1_sd"]
    mlp = table.set_index("model").loc["mlp"]
    assert mlp["n"] == 3 and mlp["f1_mean"] == pytest.approx(0.3)
    assert mlp["f1_sd"] == pytest.approx(np.std([0.1, 0.2, 0.6], ddof=1))
    assert table.set_index("model").loc["gnn", "f1_sd"] == 0.0
    with pytest.raises(InputError, match="'auc'"):
        aggregate_table(df, "model", ["auc"])


@settings(max_examples=40, deadline=None)
@given(
    hnp.arrays(np.int8, st.integers(1, 40), elements=st.sampled_from((-1, 0, 1))),
    st.data(),
    st.sampled_from((np.int8, np.int64, np.float32)),
    st.integers(1, 7),
)
def test_confusion_matrix_counts_each_pair_in_blocks_of_any_size(
    true: np.ndarray, data: st.DataObject, dtype, block: int
) -> None:
    pred = data.draw(hnp.arrays(np.int8, true.shape, elements=st.sampled_from((-1, 0, 1))))
    expected = np.zeros((3, 3), dtype=np.int64)
    for t, p in zip(true, pred, strict=True):
        expected[t + 1, p + 1] += 1
    with patch.object(metrics, "COUNT_BLOCK", block):
        assert np.array_equal(confusion_matrix(true.astype(dtype), pred), expected)
