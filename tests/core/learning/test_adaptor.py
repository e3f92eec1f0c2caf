"""Adaptor loss L_a (Eq. 4), the combination ȳ, REINFORCE advantages (Eq. 5), the weight
vector w (appendix E.3), the balanced routing prior (against brute force), the oracle
routing and the route metrics."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from aligned_kedro.core.errors import InputError
from aligned_kedro.core.evaluation.metrics import balanced_f1, macro_f1
from aligned_kedro.core.learning.adaptor import (
    adaptor_bias,
    adaptor_loss,
    balanced_routing,
    combine,
    gene_rewards,
    inconsistency,
    kb_usage,
    kb_usage_by_input,
    length_penalty,
    normalise_advantages,
    oracle_routing,
    reinforce_loss,
    route_switch_share,
    weight_penalty,
    weight_vector,
)

A = np.array([1, 0, 0, 1])
Y_HAT = np.array([1, 0, -1, 0])
KB = np.array([1, 1, -1, -1])
W = np.array([0.9, 0.1, 0.5, 0.2])


def test_combine_takes_kb_where_a_is_one() -> None:
    np.testing.assert_array_equal(combine(A, Y_HAT, KB), [1, 0, -1, -1])
    out = combine(torch.tensor(A), torch.tensor(Y_HAT), torch.tensor(KB))
    assert out.tolist() == [1, 0, -1, -1]


def test_loss_terms_on_a_hand_built_case() -> None:
    assert inconsistency(A, Y_HAT, KB) == 1
    assert inconsistency(np.ones(4), Y_HAT, KB) == 0
    assert inconsistency(np.zeros(4), Y_HAT, KB) == 2
    assert length_penalty(A, 1.2) == pytest.approx(0.8)
    assert length_penalty(A, 3.0) == 0.0
    assert weight_penalty(A, W) == pytest.approx(0.1 + 0.1 + 0.5 + 0.8)
    # θ = 0.3 * 4 = 1.2: L_a = 1 + 5 * 0.8 + 10 * 1.5
    assert adaptor_loss(A, Y_HAT, KB, W) == pytest.approx(20.0)
    assert adaptor_loss(A, Y_HAT, KB, W, use_inc=False) == pytest.approx(19.0)
    assert adaptor_loss(A, Y_HAT, KB, W, use_len=False) == pytest.approx(16.0)
    # θ = 2: the hinge is inactive
    assert adaptor_loss(A, Y_HAT, KB, W, c_l=1, c_w=2, theta_share=0.5) == pytest.approx(4.0)


def test_loss_terms_are_per_sample_and_agree_on_torch() -> None:
    a = np.stack([A, 1 - A])
    y_hat = np.stack([Y_HAT, Y_HAT])
    kb = np.stack([KB, KB])
    values = adaptor_loss(a, y_hat, kb, W)
    # second sample: a = [0,1,1,0] -> Inc 1, L_len 0.8, L_weight 0.9+0.9+0.5+0.2
    np.testing.assert_allclose(values, [20.0, 1 + 4 + 25.0])
    torch_values = adaptor_loss(torch.tensor(a), torch.tensor(y_hat), torch.tensor(kb), W)
    np.testing.assert_allclose(torch_values.numpy(), values, rtol=1e-6)


def test_kb_usage_and_adaptor_bias() -> None:
    assert kb_usage(A) == 0.5
    assert kb_usage(torch.tensor([[1, 1], [1, 0]])) == 0.75
    bias = adaptor_bias([0.0, 0.5, 1.0])
    np.testing.assert_allclose(1 / (1 + np.exp(-bias)), [0.02, 0.5, 0.98])


@settings(max_examples=50, deadline=None)
@given(
    st.integers(min_value=2, max_value=12).flatmap(
        lambda n: st.tuples(
            st.lists(st.integers(0, 1), min_size=n, max_size=n),
            st.lists(st.integers(-1, 1), min_size=n, max_size=n),
            st.lists(st.integers(-1, 1), min_size=n, max_size=n),
            st.lists(st.floats(0, 1), min_size=n, max_size=n),
        )
    ),
    st.floats(0.0, 1.0),
)
def test_gene_rewards_differ_from_l_a_only_by_terms_free_of_a_g(case, theta_share) -> None:
    """r_g(a) − r_g(a with a_g = 0) = L_a(a) − L_a(a with a_g = 0): unbiased credit."""
    a, y_hat, kb, w = (torch.tensor(v) for v in case)
    w = w.float()
    rewards = gene_rewards(a[None], y_hat[None], kb[None], w, theta_share=theta_share)[0]
    for g in range(len(a)):
        off = a.clone()
        off[g] = 0
        r_off = gene_rewards(off[None], y_hat[None], kb[None], w, theta_share=theta_share)[0]
        full = adaptor_loss(a, y_hat, kb, w, theta_share=theta_share)
        dropped = adaptor_loss(off, y_hat, kb, w, theta_share=theta_share)
        assert float(rewards[g] - r_off[g]) == pytest.approx(float(full - dropped), abs=1e-4)


def test_hinge_credit_goes_to_used_genes_only_when_active() -> None:
    a = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0]])
    y_hat = torch.zeros(2, 4, dtype=torch.long)
    rewards = gene_rewards(a, y_hat, y_hat, torch.zeros(4), c_w=0.0, theta_share=0.5)
    # sample 1: ||a|| = 3 > θ = 2, each used gene adds C_l; sample 2: hinge inactive
    assert rewards.tolist() == [[5.0, 5.0, 5.0, 0.0], [0.0, 0.0, 0.0, 0.0]]


def test_normalised_advantages_stay_order_one_on_a_large_case() -> None:
    """Raw L_a grows with n (the reference's reached 1e6-1e8); advantages must not."""
    generator = torch.Generator().manual_seed(0)
    m, n = 64, 20_000
    a = torch.bernoulli(torch.full((m, n), 0.6), generator=generator)
    y_hat = torch.randint(-1, 2, (m, n), generator=generator)
    kb = torch.randint(-1, 2, (m, n), generator=generator)
    w = torch.rand(n, generator=generator)
    raw = adaptor_loss(a, y_hat, kb, w)
    assert float(raw.min()) > 1e4
    advantages = normalise_advantages(gene_rewards(a, y_hat, kb, w))
    assert torch.isfinite(advantages).all()
    assert float(advantages.std()) == pytest.approx(1.0, rel=1e-3)
    assert float(advantages.abs().max()) < 10.0
    assert float(advantages.mean(0).abs().max()) < 1e-4


def test_constant_rewards_give_zero_advantages() -> None:
    assert torch.equal(normalise_advantages(torch.full((5, 3), 7.0)), torch.zeros(5, 3))


def test_reinforce_moves_each_gene_towards_its_cheaper_choice() -> None:
    """A per-gene policy trained with the estimator learns a = 1 where w is high."""
    torch.manual_seed(0)
    n, m = 6, 128
    w = torch.tensor([0.95, 0.9, 0.8, 0.2, 0.1, 0.05])
    logits = torch.zeros(n, requires_grad=True)
    optimiser = torch.optim.Adam([logits], lr=0.1)
    kb = torch.zeros(m, n, dtype=torch.long)
    for _ in range(60):
        batch_logits = logits.expand(m, n)
        a = torch.bernoulli(torch.sigmoid(batch_logits.detach()))
        advantages = normalise_advantages(gene_rewards(a, kb, kb, w, use_len=False))
        optimiser.zero_grad()
        reinforce_loss(batch_logits, a, advantages).backward()
        optimiser.step()
    p = torch.sigmoid(logits).detach()
    assert (p[:3] > 0.9).all()
    assert (p[3:] < 0.1).all()


def test_weight_vector_on_a_hand_built_case() -> None:
    X = np.array([[-1, 0, 0, 0], [0, -1, 0, 0], [0, 0, 1, 0]])
    Y = np.array([[-1, 1, 0, 0], [0, -1, 0, 1], [0, 0, 1, 0]])
    delta = np.array([[-1, 1, 1, 0], [0, -1, 0, -1], [1, 0, 1, 0]])
    share = np.array([2 / 3, 1, 2 / 3, 2 / 3])
    w = weight_vector(X, Y, delta, kb_degree=[0, 2, 4, 0], go_count=[3, 0, 6, 6])
    expected = 0.5 * share + 0.2 * np.array([0, 0.5, 1, 0]) + 0.3 * np.array([0.5, 0, 1, 1])
    np.testing.assert_allclose(w, expected)
    np.testing.assert_allclose(
        weight_vector(X, Y, delta, kb_degree=np.zeros(4), go_count=None), 0.5 * share
    )
    agreement = weight_vector(X, Y, delta, [0, 2, 4, 0], [3, 0, 6, 6], terms="agreement")
    np.testing.assert_allclose(agreement, share)


def test_weight_vector_uses_only_the_rows_it_is_given() -> None:
    """The share term comes from the passed (training) rows alone."""
    X = np.array([[-1, 0], [0, -1], [-1, -1]])
    Y = np.array([[-1, 0], [0, -1], [1, 1]])
    delta = np.array([[-1, 0], [0, -1], [-1, -1]])
    train = slice(0, 2)
    w_train = weight_vector(X[train], Y[train], delta[train], np.zeros(2))
    w_all = weight_vector(X, Y, delta, np.zeros(2))
    np.testing.assert_allclose(w_train, [0.5, 0.5])
    np.testing.assert_allclose(w_all, [1 / 3, 1 / 3])


def test_weight_vector_rejects_bad_input() -> None:
    X = np.array([[-1, 0]])
    with pytest.raises(InputError, match=r"kb_pred_train has shape \(2, 2\)"):
        weight_vector(X, X, np.zeros((2, 2)), np.zeros(2))
    with pytest.raises(InputError, match=r"kb_degree has shape \(3,\)"):
        weight_vector(X, X, X, np.zeros(3))
    with pytest.raises(InputError, match="Y_train holds 2"):
        weight_vector(X, np.array([[2, 0]]), X, np.zeros(2))
    with pytest.raises(InputError, match="go_count must be finite and non-negative"):
        weight_vector(X, X, X, np.zeros(2), go_count=[-1, 0])
    with pytest.raises(InputError, match="terms must be e3 or agreement"):
        weight_vector(X, X, X, np.zeros(2), terms="degree")


def brute_force_best(Y: np.ndarray, H: np.ndarray, K: np.ndarray) -> tuple[float, np.ndarray]:
    best, best_w = -1.0, None
    for bits in itertools.product([0, 1], repeat=Y.shape[1]):
        w = np.array(bits)
        score = routed_score(Y, H, K, w)
        if score > best:
            best, best_w = score, w
    return best, best_w


def routed_score(Y: np.ndarray, H: np.ndarray, K: np.ndarray, w: np.ndarray) -> float:
    y_bar = combine(np.broadcast_to(w, Y.shape), H, K)
    return balanced_f1(macro_f1(Y, y_bar)["f1"], macro_f1(K, y_bar)["f1"])


ternary_triples = st.tuples(st.integers(1, 8), st.integers(1, 6)).flatmap(
    lambda shape: st.tuples(
        *(
            st.lists(
                st.integers(-1, 1), min_size=shape[0] * shape[1], max_size=shape[0] * shape[1]
            ).map(lambda v, s=shape: np.array(v).reshape(s))
            for _ in range(3)
        )
    )
)


@settings(max_examples=60, deadline=None)
@given(ternary_triples)
def test_balanced_routing_is_a_local_optimum_of_the_real_metric(triple) -> None:
    """The score it reports is Eq. 3 of macro_f1 on ȳ; no single gene's switch beats it; it
    never does worse than all-neural, nor better than the brute-force best routing."""
    Y, H, K = triple
    w, score = balanced_routing(Y, H, K)
    assert set(np.unique(w)) <= {0.0, 1.0}
    assert score == pytest.approx(routed_score(Y, H, K, w), abs=1e-12)
    for g in range(Y.shape[1]):
        flipped = w.copy()
        flipped[g] = 1 - flipped[g]
        assert routed_score(Y, H, K, flipped) <= score + 1e-12
    assert score >= routed_score(Y, H, K, np.zeros(Y.shape[1])) - 1e-12
    assert score <= brute_force_best(Y, H, K)[0] + 1e-12


def test_balanced_routing_finds_the_best_routing_of_a_hand_case() -> None:
    """Gene 1's KB answer is flipped and f_y misses genes 0, 3 and 4 (the KB misses 4 too):
    KB for 0 and 3 only; where f_y and the KB agree (2, 4), the tie keeps f_y."""
    Y = np.array([[1, -1, 0, 1, 0], [-1, 1, 1, 0, 1], [0, 0, -1, 1, -1], [1, 1, 0, -1, 0]])
    K = Y.copy()
    K[:, 1] = -Y[:, 1]
    K[:, 4] = 0
    H = Y.copy()
    H[:, [0, 3, 4]] = 0
    w, score = balanced_routing(Y, H, K)
    np.testing.assert_array_equal(w, [1, 0, 0, 1, 0])
    assert score == pytest.approx(brute_force_best(Y, H, K)[0])
    assert routed_score(Y, H, K, np.array([1, 1, 0, 1, 0])) < score


def test_balanced_routing_rejects_bad_input() -> None:
    Y = np.zeros((2, 3), dtype=int)
    with pytest.raises(InputError, match=r"kb_pred has shape \(2, 2\)"):
        balanced_routing(Y, Y, np.zeros((2, 2)))
    with pytest.raises(InputError, match="y_neural holds 3"):
        balanced_routing(Y, np.full((2, 3), 3), Y)
    with pytest.raises(InputError, match="non-empty"):
        balanced_routing(np.zeros((0, 3)), np.zeros((0, 3)), np.zeros((0, 3)))


def cell_routed_score(Y: np.ndarray, H: np.ndarray, K: np.ndarray, a: np.ndarray) -> float:
    y_bar = combine(a, H, K)
    return balanced_f1(macro_f1(Y, y_bar)["f1"], macro_f1(K, y_bar)["f1"])


@settings(max_examples=60, deadline=None)
@given(ternary_triples)
def test_oracle_routing_reports_its_routing_and_beats_the_simple_ones(triple) -> None:
    """Its score is Eq. 3 of its own routing; it is at least the score of all-ŷ, all-δ,
    "δ where δ = y" and the best per-gene (static) routing found by `balanced_routing`."""
    Y, H, K = triple
    a, score = oracle_routing(Y, H, K)
    assert set(np.unique(a)) <= {0, 1}
    assert score == pytest.approx(cell_routed_score(Y, H, K, a), abs=1e-12)
    for simple in (np.zeros_like(Y), np.ones_like(Y), (K == Y).astype(int)):
        assert score >= cell_routed_score(Y, H, K, simple) - 1e-12


def test_oracle_routing_finds_the_brute_force_best_of_a_hand_case() -> None:
    """Gene 0's δ is right in rows 0-1 and wrong in rows 2-3, where f_y is right: the
    best routing differs between the rows of a gene and beats every static routing."""
    Y = np.array([[1, 0, -1], [-1, 1, 0], [0, -1, 1], [0, 0, -1]])
    K = np.array([[1, 0, -1], [-1, 1, 1], [1, -1, 1], [-1, 1, -1]])
    H = np.array([[0, 0, -1], [0, 1, 0], [0, 0, 1], [0, 0, 0]])
    a, score = oracle_routing(Y, H, K)
    best = max(
        cell_routed_score(Y, H, K, np.array(bits).reshape(Y.shape))
        for bits in itertools.product([0, 1], repeat=Y.size)
    )
    assert score == pytest.approx(best)
    assert route_switch_share(a, K) > 0
    assert score > brute_force_best(Y, H, K)[0] + 0.01


def test_route_switch_share_counts_genes_routed_both_ways_where_the_kb_answers() -> None:
    """Gene 0 answers twice and is routed both ways; gene 1 answers twice, one way; gene 2
    answers once (not counted); gene 3 switches only where the KB is silent (0)."""
    K = np.array([[1, -1, 1, 0], [-1, 1, 0, 0], [0, 0, 0, 1], [0, 0, 0, 1]])
    a = np.array([[1, 1, 1, 1], [0, 1, 0, 0], [1, 0, 0, 1], [0, 0, 0, 1]])
    assert route_switch_share(a, K) == pytest.approx(1 / 3)
    assert route_switch_share(np.broadcast_to(a[0], K.shape), K) == 0.0
    assert route_switch_share(a, np.zeros_like(K)) == 0.0
    np.testing.assert_allclose(kb_usage_by_input(a), [1, 0.25, 0.5, 0.25])
