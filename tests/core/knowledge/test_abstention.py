"""δ_KB's abstention rule: paths weighted by length, a sign only where the balance holds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from brute_force import enumerate_walks, signed_graphs
from hypothesis import given, settings
from hypothesis import strategies as st
from test_closure import B2_NEG, B2_POS, GENES

from aligned_kedro.core.errors import InputError
from aligned_kedro.core.knowledge.abstention import (
    SATURATED_SHARE,
    Abstention,
    changed_shares,
    share_summary,
)
from aligned_kedro.core.knowledge.deduction import deduce
from aligned_kedro.core.knowledge.kb import KnowledgeBase, compile_kb

PROPERTY = settings(max_examples=60, deadline=None)
X_A = np.array([1, 0, 0, 0, 0])


@pytest.fixture
def b2() -> KnowledgeBase:
    return KnowledgeBase(GENES, sp.csr_matrix(B2_POS), sp.csr_matrix(B2_NEG))


def path_weights(
    pos: np.ndarray, neg: np.ndarray, k: int, decay: float
) -> tuple[np.ndarray, np.ndarray]:
    """P and N by brute force: every walk of L <= k+1 interactions (no pauses), decay**L."""
    off = pos.copy()
    np.fill_diagonal(off, 0)
    p, q = np.zeros(pos.shape), np.zeros(pos.shape)
    for length in range(k + 2):
        even, odd = enumerate_walks(off, neg, length)
        p += decay**length * even
        q += decay**length * odd
    return p, q


# --- appendix B.2 ---------------------------------------------------------------


def test_b2_numbers_with_the_rule_off(b2: KnowledgeBase) -> None:
    off = Abstention(balance=0.0, decay=0.5)
    assert deduce(b2, X_A, 2, "integer", abstention=off).tolist() == [0, -1, 1, 1, -1]
    assert deduce(b2, X_A, 2, "integer", abstention=None).tolist() == [0, -1, 1, 1, -1]
    assert deduce(b2, X_A, 2, "boolean", abstention=Abstention(0.5)).tolist() == [0, -1, 1, 1, 0]
    assert deduce(b2, X_A, 4, "boolean", abstention=Abstention(0.5)).tolist() == [0] * 5


def test_b2_by_hand(b2: KnowledgeBase) -> None:
    # from a, paths of <= 3 interactions: a (L=0, +) and a->c->d-|a (L=3, -); a-|b;
    # a->c; a->c->d; and e: a->e (+, L=1), a-|b->e (-, L=2), a->c->d-|e (-, L=3)
    # decay 0.5: e has P = 0.5, N = 0.375, balance 0.125 / 0.875 = 1/7
    rule = Abstention(balance=0.5, decay=0.5)
    assert deduce(b2, X_A, 2, abstention=rule).tolist() == [1, -1, 1, 1, 0]
    assert deduce(b2, X_A, 2, abstention=Abstention(0.1, 0.5)).tolist() == [1, -1, 1, 1, 1]
    # undecayed, e has P = 1 and N = 2: the paper's sign, a's cycle cancels its own path
    assert deduce(b2, X_A, 2, abstention=Abstention(0.1, 1.0)).tolist() == [0, -1, 1, 1, -1]
    # a knockout flips every kept sign
    assert deduce(b2, -X_A, 2, abstention=rule).tolist() == [-1, 1, -1, -1, 0]


def test_b2_path_weights_match_the_brute_force() -> None:
    p, q = path_weights(B2_POS, B2_NEG, 2, 0.5)
    np.testing.assert_allclose(p[0], [1, 0, 0.5, 0.25, 0.5])
    np.testing.assert_allclose(q[0], [0.125, 0.5, 0, 0, 0.375])


# --- against brute force --------------------------------------------------------


@PROPERTY
@given(
    graph=signed_graphs(max_n=5),
    k=st.integers(0, 2),
    decay=st.sampled_from([0.3, 1.0]),
    balance=st.sampled_from([1 / np.pi, 0.05, 0.8]),
    data=st.data(),
)
def test_rule_matches_brute_force(
    graph: tuple[np.ndarray, np.ndarray],
    k: int,
    decay: float,
    balance: float,
    data: st.DataObject,
) -> None:
    pos, neg = graph
    n = len(pos)
    kb = KnowledgeBase(tuple(f"g{i}" for i in range(n)), sp.csr_matrix(pos), sp.csr_matrix(neg))
    x = np.array(data.draw(st.lists(st.sampled_from([-1, 0, 1]), min_size=n, max_size=n)))
    p, q = path_weights(pos, neg, k, decay)
    up, down = (x > 0).astype(float), (x < 0).astype(float)
    plus, minus = up @ p + down @ q, up @ q + down @ p
    expected = np.where(
        np.abs(plus - minus) > balance * (plus + minus) * (1 + 1e-9), np.sign(plus - minus), 0
    )
    found = deduce(kb, x, k, abstention=Abstention(balance, decay), block_size=2)
    np.testing.assert_array_equal(found, expected)


@PROPERTY
@given(graph=signed_graphs(max_n=6), k=st.integers(0, 3), data=st.data())
def test_a_higher_balance_only_abstains_more(
    graph: tuple[np.ndarray, np.ndarray], k: int, data: st.DataObject
) -> None:
    pos, neg = graph
    n = len(pos)
    kb = KnowledgeBase(tuple(f"g{i}" for i in range(n)), sp.csr_matrix(pos), sp.csr_matrix(neg))
    X = np.array(
        data.draw(
            st.lists(
                st.lists(st.sampled_from([-1, 0, 1]), min_size=n, max_size=n),
                min_size=1,
                max_size=3,
            )
        )
    )
    low, high = sorted(data.draw(st.lists(st.floats(0.01, 0.99), min_size=2, max_size=2)))
    loose = deduce(kb, X, k, abstention=Abstention(low))
    strict = deduce(kb, X, k, abstention=Abstention(high))
    assert np.all((strict == 0) | (strict == loose))


def test_margin_applies_to_the_weighted_value(b2: KnowledgeBase) -> None:
    rule = Abstention(balance=0.1, decay=0.5)
    # |P - N| is 0.875 (a), 0.5 (b), 0.5 (c), 0.25 (d), 0.125 (e)
    assert deduce(b2, X_A, 2, margin=0.3, abstention=rule).tolist() == [1, -1, 1, 0, 0]


def test_dense_kb_no_longer_saturates() -> None:
    rng = np.random.default_rng(3)
    n, regulators = 400, 60
    src = rng.choice(regulators, 6000)
    tgt = rng.integers(0, n, 6000)
    sign = np.where(rng.random(6000) < 0.25, -1, 1)
    genes = [f"g{i}" for i in range(n)]
    edges = {
        "regulator": [genes[i] for i in src],
        "target": [genes[i] for i in tgt],
        "sign": sign,
    }
    kb = compile_kb(pd.DataFrame(edges), genes, conflict="drop")
    X = np.zeros((regulators, n))
    X[np.arange(regulators), np.arange(regulators)] = -1
    raw = share_summary(changed_shares(deduce(kb, X, 4), X))
    ruled = share_summary(changed_shares(deduce(kb, X, 4, abstention=Abstention(0.6)), X))
    assert raw["kb_saturated"] == 1.0 and raw["kb_changed_share_median"] > 0.9
    assert ruled["kb_saturated"] == 0.0
    assert ruled["kb_changed_share_median"] < SATURATED_SHARE


# --- the rule and the shares ----------------------------------------------------


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"balance": 1.0}, "balance"),
        ({"balance": -0.1}, "balance"),
        ({"decay": 0.0}, "decay"),
        ({"decay": 1.5}, "decay"),
        ({"balance": 0.5, "threshold": 2}, "threshold"),
    ],
)
def test_bad_options_raise(options: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        Abstention.from_params(options)


def test_from_params() -> None:
    assert not Abstention.from_params(None).active
    assert not Abstention.from_params({}).active
    rule = Abstention.from_params({"balance": 0.6, "decay": 0.1})
    assert rule == Abstention(0.6, 0.1) and rule.active


def test_changed_shares_leave_out_the_perturbed_genes() -> None:
    deduced = np.array([[-1, 1, 0, 1], [0, 0, 0, 0], [1, 1, 1, 1]])
    X = np.array([[-1, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1]])
    shares = changed_shares(deduced, sp.csr_matrix(X))
    np.testing.assert_allclose(shares[:2], [2 / 3, 0.0])
    assert np.isnan(shares[2])
    measured = np.array([True, True, False, True])
    np.testing.assert_allclose(changed_shares(deduced, X, measured)[:2], [1.0, 0.0])
    with pytest.raises(InputError, match="shape"):
        changed_shares(deduced[:, :3], X)


def test_share_summary_flags_saturation() -> None:
    summary = share_summary(np.array([0.1, 0.5, 0.6, np.nan]))
    assert summary["kb_changed_share_median"] == pytest.approx(0.5)
    assert summary["kb_changed_share_min"] == pytest.approx(0.1)
    assert summary["kb_saturated"] == 1.0
    assert share_summary(np.array([0.1, 0.2, 0.9]))["kb_saturated"] == 0.0
    empty = share_summary(np.array([]))
    assert np.isnan(empty["kb_changed_share_median"]) and empty["kb_saturated"] == 0.0
