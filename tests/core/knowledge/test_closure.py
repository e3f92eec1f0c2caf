"""Closure (Eq. 1), deduction δ_KB and inconsistency (Eq. 2), checked against appendix B.2."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from brute_force import enumerate_walks, signed_graphs
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from aligned_kedro.core.errors import InputError
from aligned_kedro.core.knowledge.deduction import closure, closure_rows, deduce
from aligned_kedro.core.knowledge.disagreement import inconsistency, inconsistency_report
from aligned_kedro.core.knowledge.kb import KnowledgeBase

GENES = ("a", "b", "c", "d", "e")
B2_POS = np.array(
    [[1, 0, 1, 0, 1], [0, 1, 0, 0, 1], [0, 0, 1, 1, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1]]
)
B2_NEG = np.array(
    [[0, 1, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [1, 0, 0, 0, 1], [0, 0, 0, 0, 0]]
)
B2_BOOL_POS_2 = np.array(
    [[1, 0, 1, 1, 1], [0, 1, 0, 0, 1], [0, 1, 1, 1, 0], [0, 1, 0, 1, 1], [0, 0, 0, 0, 1]]
)
B2_BOOL_NEG_2 = np.array(
    [[1, 1, 0, 0, 1], [0, 0, 0, 0, 0], [1, 0, 1, 0, 1], [1, 0, 1, 1, 1], [0, 0, 0, 0, 0]]
)
PROPERTY = settings(max_examples=60, deadline=None)


def kb_from(pos: np.ndarray, neg: np.ndarray) -> KnowledgeBase:
    genes = tuple(f"g{i}" for i in range(len(pos)))
    return KnowledgeBase(genes, sp.csr_matrix(pos), sp.csr_matrix(neg))


@pytest.fixture
def b2() -> KnowledgeBase:
    return KnowledgeBase(GENES, sp.csr_matrix(B2_POS), sp.csr_matrix(B2_NEG))


def dense(m: np.ndarray | sp.spmatrix) -> np.ndarray:
    return m.toarray() if sp.issparse(m) else np.asarray(m)


# --- appendix B.2 ---------------------------------------------------------------


def test_b2_boolean_closure_matrices(b2: KnowledgeBase) -> None:
    r_pos, r_neg = closure(b2, 2, "boolean")
    np.testing.assert_array_equal(dense(r_pos), B2_BOOL_POS_2)
    np.testing.assert_array_equal(dense(r_neg), B2_BOOL_NEG_2)


def test_b2_integer_closure_counts(b2: KnowledgeBase) -> None:
    r_pos, r_neg = closure(b2, 2, "integer")
    p, q = B2_POS.copy(), B2_NEG.copy()
    for _ in range(2):
        p, q = B2_POS @ p + B2_NEG @ q, B2_POS @ q + B2_NEG @ p
    np.testing.assert_array_equal(dense(r_pos), p)
    np.testing.assert_array_equal(dense(r_neg), q)
    assert dense(r_pos)[0].tolist() == [1, 0, 3, 3, 3]
    assert dense(r_neg)[0].tolist() == [1, 3, 0, 0, 4]


def test_b2_deduction(b2: KnowledgeBase) -> None:
    x = np.array([1, 0, 0, 0, 0])
    assert deduce(b2, x, 2, "boolean").tolist() == [0, -1, 1, 1, 0]
    assert deduce(b2, x, 2, "integer").tolist() == [0, -1, 1, 1, -1]
    assert deduce(b2, x[None, :], 2).tolist() == [[0, -1, 1, 1, -1]]
    assert deduce(b2, x, 4, "boolean").tolist() == [0, 0, 0, 0, 0]


def test_b2_margin(b2: KnowledgeBase) -> None:
    x = np.array([1, 0, 0, 0, 0])
    assert deduce(b2, x, 2, "integer", margin=1).tolist() == [0, -1, 1, 1, 0]
    assert deduce(b2, x, 2, "integer", margin=3).tolist() == [0, 0, 0, 0, 0]


def test_output_dtype_and_sparse_input(b2: KnowledgeBase) -> None:
    X = np.array([[1, 0, 0, 0, 0], [0, 0, -1, 0, -1], [0, 0, 0, 0, 0]])
    out = deduce(b2, sp.csr_matrix(X), 2)
    assert out.dtype == np.int8 and out.shape == (3, 5)
    np.testing.assert_array_equal(out, deduce(b2, X, 2))
    assert not out[2].any()


def test_closure_rows_by_name_and_index(b2: KnowledgeBase) -> None:
    p, q = closure_rows(b2, ["a", "e"], 2, "integer")
    p2, q2 = closure_rows(b2, [0, 4], 2, "integer")
    np.testing.assert_array_equal(p, p2)
    np.testing.assert_array_equal(q, q2)
    assert p[1].tolist() == [0, 0, 0, 0, 1] and not q[1].any()
    with pytest.raises(InputError, match="zzz"):
        closure_rows(b2, ["zzz"], 2)


def test_closure_switches_to_dense(b2: KnowledgeBase) -> None:
    sparse_pos, _ = closure(b2, 2, dense_threshold=1.0)
    dense_pos, dense_neg = closure(b2, 2, dense_threshold=0.0)
    assert sp.issparse(sparse_pos)
    assert isinstance(dense_pos, np.ndarray) and isinstance(dense_neg, np.ndarray)
    np.testing.assert_array_equal(sparse_pos.toarray(), dense_pos)


# --- properties -----------------------------------------------------------------


@PROPERTY
@given(graph=signed_graphs(), k=st.integers(0, 4))
def test_integer_closure_counts_signed_walks(graph: tuple[np.ndarray, np.ndarray], k: int) -> None:
    pos, neg = graph
    even, odd = enumerate_walks(pos, neg, k + 1)
    r_pos, r_neg = closure(kb_from(pos, neg), k, "integer")
    np.testing.assert_array_equal(dense(r_pos), even)
    np.testing.assert_array_equal(dense(r_neg), odd)


@PROPERTY
@given(graph=signed_graphs(), k=st.integers(0, 4))
def test_boolean_closure_is_walk_existence(graph: tuple[np.ndarray, np.ndarray], k: int) -> None:
    pos, neg = graph
    kb = kb_from(pos, neg)
    r_pos, r_neg = (dense(m) for m in closure(kb, k, "boolean"))
    even, odd = enumerate_walks(pos, neg, k + 1)
    np.testing.assert_array_equal(r_pos, even > 0)
    np.testing.assert_array_equal(r_neg, odd > 0)
    bare = pos.copy()
    np.fill_diagonal(bare, 0)
    up_to_pos, up_to_neg = np.zeros_like(r_pos, bool), np.zeros_like(r_neg, bool)
    for length in range(k + 2):
        e, o = enumerate_walks(bare, neg, length)
        up_to_pos |= e > 0
        up_to_neg |= o > 0
    np.testing.assert_array_equal(r_pos, up_to_pos)
    np.testing.assert_array_equal(r_neg, up_to_neg)
    i_pos, i_neg = (dense(m) for m in closure(kb, k, "integer"))
    np.testing.assert_array_equal(r_pos, i_pos > 0)
    np.testing.assert_array_equal(r_neg, i_neg > 0)


@PROPERTY
@given(
    graph=signed_graphs(),
    k=st.integers(0, 4),
    variant=st.sampled_from(["integer", "boolean"]),
    margin=st.sampled_from([0.0, 0.5, 2.0]),
    block_size=st.sampled_from([None, 1, 2]),
    data=st.data(),
)
def test_row_restricted_deduction_matches_full_closure(
    graph: tuple[np.ndarray, np.ndarray],
    k: int,
    variant: str,
    margin: float,
    block_size: int | None,
    data: st.DataObject,
) -> None:
    pos, neg = graph
    n = len(pos)
    kb = kb_from(pos, neg)
    X = data.draw(arrays(np.int64, (data.draw(st.integers(1, 5)), n), elements=st.integers(-1, 1)))
    r_pos, r_neg = closure(kb, k, variant, dense_threshold=data.draw(st.sampled_from([0.0, 1.0])))
    values = X @ (dense(r_pos) - dense(r_neg))
    expected = np.where(np.abs(values) > margin, np.sign(values), 0)
    got = deduce(kb, X, k, variant, margin, block_size=block_size)
    np.testing.assert_array_equal(got, expected)
    rows = data.draw(st.lists(st.integers(0, n - 1), max_size=4))
    p, q = closure_rows(kb, rows, k, variant, block_size=block_size)
    np.testing.assert_array_equal(p, dense(r_pos)[rows])
    np.testing.assert_array_equal(q, dense(r_neg)[rows])


# --- overflow and validation ----------------------------------------------------


def test_integer_overflow_raises_and_boolean_does_not() -> None:
    n = 30
    kb = kb_from(np.ones((n, n), dtype=int), np.zeros((n, n), dtype=int))
    assert deduce(kb, np.eye(n)[:1], 9, "integer").all()
    with pytest.raises(OverflowError, match=r"k=15.*boolean"):
        deduce(kb, np.eye(n)[:1], 15, "integer")
    with pytest.raises(OverflowError):
        closure(kb, 15, "integer")
    assert deduce(kb, np.eye(n)[:1], 15, "boolean").all()


def test_deduce_rejects_bad_shape(b2: KnowledgeBase) -> None:
    with pytest.raises(InputError, match="4 columns.*5 genes"):
        deduce(b2, np.zeros((2, 4)), 2)


def test_deduce_rejects_bad_values(b2: KnowledgeBase) -> None:
    X = np.zeros((3, 5))
    X[2, 3] = 2
    with pytest.raises(InputError) as err:
        deduce(b2, X, 2)
    assert (err.value.row, err.value.gene) == (2, "d")


def test_bad_k_and_variant(b2: KnowledgeBase) -> None:
    with pytest.raises(InputError, match="k must"):
        deduce(b2, np.zeros(5), -1)
    with pytest.raises(InputError, match="variant"):
        deduce(b2, np.zeros(5), 2, "fuzzy")  # type: ignore[arg-type]


# --- inconsistency (Eq. 2) and the Figure-1 report -------------------------------


def test_inconsistency_counts_differences() -> None:
    pred = np.array([[0, 1, -1], [1, 1, 0]])
    y = np.array([[0, -1, -1], [0, 1, 0]])
    assert inconsistency(pred, y) == 2
    with pytest.raises(InputError, match="shape"):
        inconsistency(pred, y[:1])


def test_inconsistency_of_b2_deduction(b2: KnowledgeBase) -> None:
    X = np.array([[1, 0, 0, 0, 0], [0, 1, 0, 0, 0]])
    Y = np.array([[0, -1, 1, 1, -1], [0, 1, 0, 0, -1]])
    assert inconsistency(deduce(b2, X, 2), Y) == 1


def test_inconsistency_report_hand_built(b2: KnowledgeBase) -> None:
    genes = [*GENES, "z"]
    X = np.array(
        [
            [-1, 0, 0, 0, 0, 0],
            [0, 1, 0, 0, 0, 0],
            [-1, 0, 0, 0, -1, 0],
            [0, 0, 0, 0, 0, -1],
        ]
    )
    Y = np.array(
        [
            [-1, 1, -1, 0, -1, 1],
            [1, 1, 0, 1, 1, 0],
            [0, 0, 1, 0, 0, 0],
            [-1, 0, 0, 0, 0, 0],
        ]
    )
    summary, per_gene = inconsistency_report(X, Y, b2, 2, "integer", genes)
    assert summary["n_relations"] == 10
    assert summary["n_missing"] == 5
    assert summary["n_conflicting"] == 2
    assert summary["n_agreeing"] == 3
    assert summary["n_tied"] == 0
    assert summary["share_missing"] == pytest.approx(0.5)
    assert summary["share_conflicting"] == pytest.approx(0.2)
    assert summary["share_agreeing"] == pytest.approx(0.3)
    assert summary["n_direct_tested"] == 7
    assert summary["n_direct_responding"] == 5
    assert summary["n_direct_agreeing"] == 4
    assert summary["share_direct_agreeing"] == pytest.approx(4 / 7)
    expected = pd.DataFrame(
        {
            "gene": ["a", "b", "e", "z"],
            "in_kb": [True, True, True, False],
            "n_conditions": [2, 1, 1, 1],
            "n_relations": [5, 3, 1, 1],
            "n_missing": [1, 2, 1, 1],
            "n_conflicting": [2, 0, 0, 0],
            "n_agreeing": [2, 1, 0, 0],
        }
    )
    pd.testing.assert_frame_equal(per_gene[expected.columns], expected, check_dtype=False)
