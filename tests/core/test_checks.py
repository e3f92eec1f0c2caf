"""The validation layer: every check accepts what it should and names the first bad entry."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from aligned_kedro.core._checks import (
    check_k,
    check_label_matrix,
    check_non_negative_int,
    check_perturbations,
    check_positive_int,
    check_probabilities,
    check_probability,
    check_ternary,
)
from aligned_kedro.core.errors import InputError

N = 8
shapes = hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=6)
ternary_arrays = shapes.flatmap(
    lambda shape: hnp.arrays(np.int64, shape, elements=st.sampled_from((-1, 0, 1)))
)


@settings(max_examples=60, deadline=None)
@given(ternary_arrays, st.data())
def test_ternary_accepts_ternary_and_names_the_first_bad_entry(
    array: np.ndarray, data: st.DataObject
) -> None:
    assert np.array_equal(check_ternary(array, "Y"), array)
    assert np.array_equal(check_ternary(sp.csr_matrix(array), "Y", sparse=True).toarray(), array)
    m, n = array.shape
    row = data.draw(st.integers(0, m - 1))
    col = data.draw(st.integers(0, n - 1))
    value = data.draw(st.sampled_from((2, -3, 7)))
    bad = array.copy()
    bad[row, col] = value
    bad[row + 1 :, :] = np.where(bad[row + 1 :, :] == 0, 5, bad[row + 1 :, :])
    bad[row, col + 1 :] = 9
    for given_values in (bad, sp.csr_matrix(bad)):
        with pytest.raises(InputError) as raised:
            check_ternary(given_values, "Y", source="labels.csv", sparse=True)
        error = raised.value
        assert (error.row, error.source) == (row, "labels.csv")
        assert f"Y holds {value!r} at column {col}" in str(error)


def test_ternary_checks_shape_dtype_and_names_the_gene() -> None:
    good = np.zeros((3, 2))
    with pytest.raises(InputError, match=r"Y has shape \(3, 2\), expected \(2, 2\)"):
        check_ternary(good, "Y", shape=(2, 2))
    with pytest.raises(InputError, match="must be numeric"):
        check_ternary(good.astype(bool), "Y")
    with pytest.raises(InputError, match="must be numeric"):
        check_ternary(np.array([["a"]]), "Y")
    bad = good.copy()
    bad[1, 1] = np.nan
    with pytest.raises(InputError, match=r"Y holds nan at column 1.*row 1, gene 'b'"):
        check_ternary(bad, "Y", genes=["a", "b"])
    with pytest.raises(InputError, match=r"y holds 4 at \(2,\); labels"):
        check_ternary(np.array([0, 1, 4]), "y", hint="labels must be -1, 0 or 1")
    assert check_ternary(good, "Y", dtype=np.int8).dtype == np.int8
    assert isinstance(check_ternary(sp.csr_matrix(good), "Y"), np.ndarray)


def test_label_matrix_is_non_empty_and_two_dimensional() -> None:
    with pytest.raises(InputError, match=r"Y must be a non-empty m x n matrix, got shape \(0, 3\)"):
        check_label_matrix(np.zeros((0, 3)), "Y")
    with pytest.raises(InputError, match="non-empty m x n matrix"):
        check_label_matrix(np.zeros(3), "Y")
    assert check_label_matrix(np.ones((1, 3)), "Y", dtype=np.float64).dtype == np.float64


def test_perturbation_errors_name_the_row() -> None:
    good = np.zeros((3, N))
    good[:, 0] = -1
    assert check_perturbations(good, N).dtype == np.float32
    with pytest.raises(InputError, match="X has 7 columns but the model has 8 genes"):
        check_perturbations(good[:, :7], N)
    with pytest.raises(InputError, match=r"2-d m x n matrix, got shape \(8,\)"):
        check_perturbations(good[0], N)
    bad = good.copy()
    bad[2, 5] = 2
    with pytest.raises(InputError, match=r"X holds 2.0 at column 5; a perturbation.*row 2"):
        check_perturbations(bad, N)
    empty = good.copy()
    empty[1] = 0
    with pytest.raises(InputError, match="X row 1 perturbs no gene"):
        check_perturbations(empty, N)
    assert check_perturbations(sp.csr_matrix(good), N).shape == (3, N)


@given(st.integers(-5, 5) | st.booleans() | st.floats(-2, 2) | st.none() | st.text(max_size=2))
def test_integer_checks_accept_integers_only(value: object) -> None:
    is_int = isinstance(value, int) and not isinstance(value, bool)
    for check, low in ((check_non_negative_int, 0), (check_positive_int, 1)):
        if is_int and value >= low:
            assert check(value, "n") == value
        else:
            with pytest.raises(InputError, match=r"n must be a (non-negative|positive) integer"):
                check(value, "n")
    if is_int and value >= 0:
        assert check_k(np.int64(value)) == value
    else:
        with pytest.raises(InputError, match="k must be a non-negative integer"):
            check_k(value)
    assert check_positive_int(None, "n", allow_none=True) is None


@given(hnp.arrays(np.float64, st.integers(1, 6), elements=st.floats(-1, 2) | st.just(np.nan)))
def test_probabilities_name_the_first_gene_outside_the_unit_interval(values: np.ndarray) -> None:
    outside = np.flatnonzero(~((values >= 0) & (values <= 1)))
    if len(outside) == 0:
        assert np.array_equal(check_probabilities(values, "w"), values)
        assert all(check_probability(v, "p") == v for v in values)
        return
    with pytest.raises(InputError, match=rf"w must lie in \[0, 1\]; gene index {outside[0]} has"):
        check_probabilities(values, "w", source="weight vector")
    with pytest.raises(InputError, match=r"p must lie in \[0, 1\]"):
        check_probability(values[outside[0]], "p")


def test_probability_shape_and_type() -> None:
    with pytest.raises(InputError, match=r"w has shape \(2,\), expected \(3,\)"):
        check_probabilities([0.5, 0.5], "w", shape=(3,))
    with pytest.raises(InputError, match="must be a number"):
        check_probability(True, "p")
    with pytest.raises(InputError, match="must be a number"):
        check_probability("0.5", "p")


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int64, np.float32, np.float64])
def test_ternary_fast_check_accepts_every_dtype_of_labels(dtype) -> None:
    values = np.array([[0, 1], [1, 0]] if dtype == np.uint8 else [[-1, 0], [1, -0.0]])
    assert np.array_equal(check_ternary(values.astype(dtype), "Y"), values.astype(dtype))


@pytest.mark.parametrize("value", [0.5, -0.25, 2.0, -1.5, np.inf, -np.inf, np.nan])
def test_ternary_fast_check_refuses_floats_between_and_beyond_the_labels(value) -> None:
    bad = np.zeros((2, 3))
    bad[1, 2] = value
    with pytest.raises(InputError, match=r"Y holds .* at column 2"):
        check_ternary(bad, "Y")
