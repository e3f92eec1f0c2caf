"""Knowledge refinement (section 3.4, Eq. 6): prox steps, row restriction, recovery, metrics."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from aligned_kedro.core.errors import InputError
from aligned_kedro.core.evaluation.refinement_benchmark import (
    corrupt,
    interaction_f1,
)
from aligned_kedro.core.knowledge.deduction import deduce
from aligned_kedro.core.knowledge.kb import KnowledgeBase, compile_kb
from aligned_kedro.core.knowledge.refinement import (
    REFINED_EDGE_COLUMNS,
    RefineOptions,
    RefineProblem,
    refine,
    relaxation,
    solver,
)
from aligned_kedro.core.knowledge.refinement.prices import Prices
from aligned_kedro.core.knowledge.refinement.relaxation import (
    predict_difference,
    prox_eps,
    prox_frobenius,
    prox_soft,
    relax,
)

K = 4
SEEDS = range(6)


def small_grn(seed: int, n: int = 40, n_regulators: int = 8, per_regulator: int = 5):
    """Layered GRN: regulator i targets genes after it, a third of the edges inhibitory."""
    rng = np.random.default_rng(seed)
    genes = [f"g{i:02d}" for i in range(n)]
    rows = []
    for reg in range(n_regulators):
        for target in rng.choice(np.arange(reg + 1, n), size=per_regulator, replace=False):
            rows.append((genes[reg], genes[target], -1 if rng.random() < 1 / 3 else 1))
    edges = pd.DataFrame(rows, columns=["regulator", "target", "sign"])
    return compile_kb(edges, genes)


def knockouts(kb: KnowledgeBase, seed: int, doubles: int = 6) -> sp.csr_matrix:
    """Single knockouts (x = -1) of every regulator plus a few double knockouts."""
    rng = np.random.default_rng(seed)
    regs = kb.regulators
    rows, cols = list(range(len(regs))), list(regs)
    for i in range(doubles):
        rows += [len(regs) + i] * 2
        cols += rng.choice(regs, size=2, replace=False).tolist()
    return sp.csr_matrix(
        (-np.ones(len(rows)), (rows, cols)), shape=(len(regs) + doubles, kb.n_genes)
    )


def edge_set(kb: KnowledgeBase) -> set[tuple[str, str, int]]:
    table = kb.edges()
    return set(zip(table["regulator"], table["target"], table["sign"], strict=True))


@pytest.fixture(scope="module")
def recovery_runs():
    runs = []
    for seed in SEEDS:
        true = small_grn(seed)
        X = knockouts(true, seed)
        Y = deduce(true, X, K)
        noisy = corrupt(true, 0.2, seed)
        runs.append((true, noisy, refine(noisy, X, Y, k=K)))
    return runs


# --- proximal operators --------------------------------------------------------------


def test_relax_values():
    x = torch.tensor([0.0, 0.01, 1.0])
    assert torch.allclose(
        relax(x, 100.0), torch.tensor([0.0, 1 - math.exp(-1), 1 - math.exp(-100)])
    )


def test_soft_threshold_and_projection():
    v = torch.tensor([3.0, -3.0, 0.5, -0.5, -3.0, -0.2])
    lower = torch.tensor([-10.0, -10.0, -10.0, -10.0, -1.0, 0.0])
    out = prox_soft(v, 1.0, lower)
    assert torch.allclose(out, torch.tensor([2.0, -2.0, 0.0, 0.0, -1.0, 0.0]))


def test_frobenius_shrink_and_projection():
    v = torch.tensor([3.0, -3.0, -3.0])
    lower = torch.tensor([-10.0, -10.0, -0.5])
    out = prox_frobenius(v, 1.0, lower)
    assert torch.allclose(out, torch.tensor([1.0, -1.0, -0.5]))


def test_exact_prox_hand_cases():
    lower = torch.tensor([-1.0, -1.0, -1.0, -1.0, 0.0])
    v = torch.tensor([2.0, 0.5, 1.5, -2.0, -2.0])
    out = prox_eps(v, 1.0, 100.0, lower).double()
    # hard threshold at |v| = sqrt(2a): 0.5 stays at 0, 1.5 and 2 move (by ~a t0 e^-t0|v|)
    assert out[0].item() == pytest.approx(2.0, abs=1e-9)
    assert out[1].item() == 0.0
    assert out[2].item() == pytest.approx(1.5, abs=1e-9)
    # the bound R̄ >= 0: d = -1 for an existing edge, d = 0 for an absent one
    assert out[3].item() == -1.0
    assert out[4].item() == 0.0


@settings(max_examples=60, deadline=None)
@given(
    v=st.floats(-3, 3),
    a=st.floats(1e-4, 2.0),
    t0=st.sampled_from([1.0, 10.0, 100.0]),
    lower=st.sampled_from([0.0, -1.0]),
)
def test_exact_prox_matches_grid_search(v, a, t0, lower):
    grid = np.concatenate([np.linspace(lower, 4.0, 400_001), [0.0, lower]])
    h = 0.5 * (grid - v) ** 2 + a * (1 - np.exp(-t0 * np.abs(grid)))
    d = prox_eps(torch.tensor([v], dtype=torch.float64), a, t0, torch.tensor([lower])).item()
    value = 0.5 * (d - v) ** 2 + a * (1 - math.exp(-t0 * abs(d)))
    assert d >= lower
    assert value <= h.min() + 1e-6


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    t0=st.sampled_from([1.0, 10.0, 100.0]),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    scalar=st.booleans(),
)
def test_exact_prox_screen_changes_nothing(seed, t0, dtype, scalar):
    """The screen leaves out only entries whose prox is 0: the result is bitwise that of
    solving every entry, and on absent entries with a large price most are left out."""
    rng = np.random.default_rng(seed)
    n = 2_000
    v = torch.as_tensor(rng.normal(size=n) * rng.random(n) * 3, dtype=dtype)
    a = 0.3 if scalar else torch.as_tensor(rng.random(n) * 10 ** rng.uniform(-6, 3, n), dtype=dtype)
    u = rng.random(n)
    lower = torch.as_tensor(np.select([u < 0.3, u < 0.6], [-rng.random(n), -1.0], 0.0), dtype=dtype)
    a_full = torch.broadcast_to(torch.as_tensor(a, dtype=torch.float64), v.shape)
    assert torch.equal(prox_eps(v, a, t0, lower), relaxation._prox_eps_solve(v, a_full, t0, lower))


def test_exact_prox_screen_solves_few_absent_entries(monkeypatch):
    solved = []
    solve = relaxation._prox_eps_solve

    def counting(v, a, t, lower):
        solved.append(v.numel())
        return solve(v, a, t, lower)

    monkeypatch.setattr(relaxation, "_prox_eps_solve", counting)
    v = torch.linspace(-2.0, 2.0, 10_001)
    out = prox_eps(v, 25.0, 100.0, torch.zeros_like(v))
    assert torch.equal(out, torch.zeros_like(v))
    assert sum(solved) == 0
    out = prox_eps(v, 1.0, 100.0, torch.zeros_like(v))
    # only v > about sqrt(2a) can beat d = 0 (v < 0 meets the bound 0); the screen keeps
    # those near and above it
    assert 0 < sum(solved) < 0.4 * len(v)
    assert torch.equal(out != 0, v > math.sqrt(2.0))
    # present entries (bound -1): d = 0 also needs the removal d = -1 to lose
    solved.clear()
    out = prox_eps(v, 1.0, 100.0, -torch.ones_like(v))
    assert 0 < sum(solved) < 0.6 * len(v)
    assert torch.equal(out == -1, v < -1.5)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    shrink=st.floats(0.01, 0.99),
    kind=st.sampled_from([("l1", "exact"), ("l1", "soft"), ("frobenius", "exact")]),
    dtype=st.sampled_from([torch.float32, torch.float64]),
)
def test_a_smaller_step_moves_no_entry_that_a_larger_one_left(seed, shrink, kind, dtype):
    """The shortcut of `solver._proximal_step`: after its first try only moved entries
    are solved again."""
    rng = np.random.default_rng(seed)
    shape = (6, 300)
    ref = (rng.random(shape) < 0.3).astype(float)
    w = np.where(rng.random(shape) < 0.2, rng.random(shape), ref)
    w[rng.random(shape) < 0.1] = 0.0
    g = rng.normal(size=shape) * 10 ** rng.uniform(-2, 2, size=shape)
    h = 10 ** rng.uniform(-3, 2, size=shape)
    price = np.where(ref > 0, 2.0, 1.0) * 10 ** rng.uniform(-1, 1)
    price[rng.random(shape) < 0.05] = np.inf
    tensors = [torch.as_tensor(x, dtype=dtype) for x in (w, g, h, ref)]
    prices = torch.as_tensor(price)
    penalty = solver._Penalty(Prices(prices, prices), kind[0], kind[1], 100.0)
    everything = (slice(None), slice(None))
    sigma = torch.as_tensor(10 ** rng.uniform(-1, 1, shape[1]), dtype=dtype)
    large = solver._prox_at(*tensors, prices, everything, sigma, penalty)[0]
    small = solver._prox_at(*tensors, prices, everything, sigma * shrink, penalty)[0]
    still = large == tensors[0]
    assert torch.equal(small[still], tensors[0][still])


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), dtype=st.sampled_from([torch.float32, torch.float64]))
def test_the_proximal_point_skips_screened_absent_entries_bitwise(seed, dtype):
    """`solver._prox_at` solves only the entries the exact prox's screen cannot settle;
    the point is bitwise that of solving every entry."""
    rng = np.random.default_rng(seed)
    shape = (5, 400)
    ref = (rng.random(shape) < 0.2).astype(float)
    w = np.where(rng.random(shape) < 0.1, rng.random(shape), ref)
    g = rng.normal(size=shape) * 10 ** rng.uniform(-3, 3, size=shape)
    h = 10 ** rng.uniform(-3, 2, size=shape)
    price = np.where(ref > 0, 2.0, 1.0) * 10 ** rng.uniform(-2, 1)
    price[rng.random(shape) < 0.05] = np.inf
    w_, g_, h_, ref_ = (torch.as_tensor(x, dtype=dtype) for x in (w, g, h, ref))
    prices = torch.as_tensor(price)
    penalty = solver._Penalty(Prices(prices, prices), "l1", "exact", 100.0)
    sigma = torch.as_tensor(10 ** rng.uniform(-1, 1, shape[1]), dtype=dtype)
    z = solver._prox_at(w_, g_, h_, ref_, prices, (slice(None), slice(None)), sigma, penalty)[0]
    eta = sigma / h_
    frozen = torch.isinf(prices)
    a = torch.where(frozen, 0.0, eta * prices.to(dtype))
    plain = ref_ + prox_eps(w_ - eta * g_ - ref_, a, 100.0, -ref_)
    plain = torch.where(frozen, w_, torch.where(plain.abs() < 1e-20, 0.0, plain))
    assert torch.equal(z, plain)


@settings(max_examples=30, deadline=None)
@given(
    values=st.lists(st.floats(-200, 200, width=32), min_size=1, max_size=40),
    tk=st.sampled_from([0.2, 1.0]),
)
def test_the_difference_prediction_has_the_same_values_without_autograd(values, tk):
    d = torch.tensor(values + [0.0, -0.0, 80.0, -80.0, 1e-30])
    with torch.no_grad():
        plain = predict_difference(d, tk)
    tracked = predict_difference(d.clone().requires_grad_(True), tk).detach()
    assert torch.equal(plain, tracked)


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 3), batch_size=st.sampled_from([2, None]))
def test_the_closure_of_the_difference_equals_the_signed_closures(seed, k, batch_size):
    """For ``relaxation="difference"`` the data term, its gradient and curvature come from
    the walks of R̄+ - R̄- alone; the signed closures give the same to rounding."""
    true = small_grn(seed % 7, n=16, n_regulators=5, per_regulator=3)
    X = knockouts(true, seed, doubles=2)
    Y = deduce(true, X, k)
    problem = RefineProblem(
        corrupt(true, 0.3, seed), X, Y, k=k, tk=0.5, dtype=torch.float64, batch_size=batch_size
    )
    rng = np.random.default_rng(seed)
    shape = problem.r_pos.shape

    def moved(w: torch.Tensor) -> torch.Tensor:
        some = torch.as_tensor(rng.random(shape) < 0.15)
        return torch.where(some, torch.as_tensor(rng.random(shape)), w)

    wp, wn = moved(problem.r_pos), moved(problem.r_neg)
    wp[torch.arange(problem.r), torch.arange(problem.r)] = 1.0
    fast, signed = problem.evaluate(wp, wn), problem._evaluate_signed(wp, wn)
    for name in ("f", "gp", "gn", "hp", "hn"):
        assert torch.allclose(getattr(fast, name), getattr(signed, name), rtol=1e-9, atol=1e-9)
    for a, b in zip(
        problem.data_term(wp, wn), problem._signed_term(wp, wn, grad=True), strict=True
    ):
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-9)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), regulators=st.booleans())
def test_an_earlier_evaluation_serves_the_removal_secants_of_unchanged_columns(seed, regulators):
    true = small_grn(seed % 7, n=24, n_regulators=5, per_regulator=4)
    X = knockouts(true, seed, doubles=2)
    Y = deduce(true, X, 2)
    problem = RefineProblem(corrupt(true, 0.3, seed), X, Y, k=2, tk=0.5, dtype=torch.float64)
    start = problem.evaluate(problem.r_pos.clone(), problem.r_neg.clone())
    rng = np.random.default_rng(seed)
    r, shape = problem.r, problem.r_pos.shape
    columns = np.arange(shape[1]) if regulators else np.arange(r, shape[1])
    chosen = torch.as_tensor(rng.choice(columns, size=3, replace=False))
    wp, wn = start.wp.clone(), start.wn.clone()
    wp[:, chosen] = torch.as_tensor(rng.random((r, 3)) * (rng.random((r, 3)) < 0.5))
    wn[:, chosen] = torch.as_tensor(rng.random((r, 3)) * (rng.random((r, 3)) < 0.5))
    wp[torch.arange(r), torch.arange(r)] = 1.0
    fresh, served = problem.evaluate(wp, wn), problem.evaluate(wp, wn, like=start)
    for name in ("f", "gp", "gn", "hp", "hn"):
        assert torch.allclose(getattr(fresh, name), getattr(served, name), rtol=1e-9, atol=1e-9)
    for a, b in zip(fresh.removal, served.removal, strict=True):
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-9)


# --- row restriction against a dense n x n reference -----------------------------------


def dense_columns(rp0, rn0, X, Y, k, tk, relaxation, measured=None):
    """Eq. 6's data term per column with dense n x n matrices (measured: 0/1 per column)."""
    p, q = rp0, rn0
    for _ in range(k):
        p, q = rp0 @ p + rn0 @ q, rp0 @ q + rn0 @ p
    if relaxation == "difference":
        d = p - q
        pred = torch.sign(d) * (1 - torch.exp(-tk * d.abs()))
    else:
        pred = torch.exp(-tk * q) - torch.exp(-tk * p)
    residual = torch.as_tensor(X) @ pred - torch.as_tensor(Y)
    if measured is not None:
        residual = residual * torch.as_tensor(measured)
    return (residual**2).sum(dim=0)


def random_point(problem, rng):
    """The KB plus uniform [0, 0.5) on every entry, the self-activation at 1."""
    wp = problem.r_pos + torch.as_tensor(rng.random(problem.r_pos.shape) * 0.5)
    wn = problem.r_neg + torch.as_tensor(rng.random(problem.r_neg.shape) * 0.5)
    wp[torch.arange(problem.r), torch.arange(problem.r)] = 1.0
    return wp, wn


def assert_dense_data_term(problem, wp, wn, X, Y, relaxation, measured=None):
    """f_j and ∇f of the row-restricted problem equal the dense reference's."""
    n, r = len(problem.layout), problem.r
    fcol, gp, gn = problem.data_term(wp, wn)
    rp0 = problem.to_dense(wp, n)
    rp0[np.arange(n), np.arange(n)] = 1.0
    rp0.requires_grad_(True)
    rn0 = problem.to_dense(wn, n).requires_grad_(True)
    per_column = dense_columns(rp0, rn0, X, Y, problem.k, problem.tk, relaxation, measured)
    per_column.sum().backward()
    rows, layout = torch.as_tensor(problem.rows), torch.as_tensor(problem.layout)
    assert torch.allclose(fcol, per_column.detach()[layout], rtol=1e-10, atol=1e-9)
    assert torch.allclose(gn, rn0.grad[rows][:, layout], atol=1e-9)
    off = torch.ones_like(gp, dtype=torch.bool)
    off[torch.arange(r), torch.arange(r)] = False
    assert torch.allclose(gp[off], rp0.grad[rows][:, layout][off], atol=1e-9)
    return fcol


@pytest.mark.parametrize("relaxation", ["separate", "difference"])
def test_row_restriction_equals_dense_reference(relaxation):
    rng = np.random.default_rng(3)
    true = small_grn(3, n=12, n_regulators=4, per_regulator=3)
    X = knockouts(true, 3, doubles=2).toarray()
    X[0, 11] = 1.0
    Y = deduce(true, X, 2).astype(np.float64)
    noisy = corrupt(true, 0.3, 1)
    problem = RefineProblem(
        noisy, X, Y, k=2, tk=0.3, relaxation=relaxation, dtype=torch.float64, batch_size=3
    )
    assert 11 in problem.rows
    wp, wn = random_point(problem, rng)
    assert_dense_data_term(problem, wp, wn, X, Y, relaxation)


def test_batching_does_not_change_the_data_term():
    true = small_grn(1)
    X = knockouts(true, 1)
    Y = deduce(true, X, K)
    whole = RefineProblem(true, X, Y, k=K, tk=0.2, dtype=torch.float64)
    split = RefineProblem(true, X, Y, k=K, tk=0.2, dtype=torch.float64, batch_size=2)
    assert len(split.blocks) > 1
    a, ga, _ = whole.data_term(whole.r_pos, whole.r_neg)
    b, gb, _ = split.data_term(split.r_pos, split.r_neg)
    assert torch.allclose(a, b)
    assert torch.allclose(ga, gb)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), relaxation=st.sampled_from(["separate", "difference"]))
def test_equal_inputs_enter_once_with_the_same_data_term(seed, relaxation):
    """Cells of one condition (equal x, their own labels) merge into one weighted row: the
    data term per column, its gradient and the inputs counted per edge are those of every
    row on its own (a dense n x n reference over the repeated rows)."""
    rng = np.random.default_rng(seed)
    true = small_grn(seed, n=14, n_regulators=4, per_regulator=3)
    distinct = np.unique(knockouts(true, seed, doubles=2).toarray(), axis=0)
    copies = rng.integers(1, 5, size=len(distinct))
    X = np.repeat(distinct, copies, axis=0)[rng.permutation(int(copies.sum()))]
    Y = rng.integers(-1, 2, size=X.shape).astype(np.float64)
    measured = rng.random(true.n_genes) < 0.8
    problem = RefineProblem(
        true, X, Y, k=2, tk=0.5, relaxation=relaxation, dtype=torch.float64, measured=measured
    )
    assert sum(len(block.rows) for block in problem.blocks) == len(distinct)
    assert sorted(problem.copies()[problem.copies() > 0]) == sorted(copies)
    wp, wn = random_point(problem, rng)
    fcol = assert_dense_data_term(problem, wp, wn, X, Y, relaxation, measured)
    assert torch.allclose(problem.evaluate(wp, wn).f, fcol, rtol=1e-10, atol=1e-9)
    off = torch.ones_like(wp, dtype=torch.bool)
    off[torch.arange(problem.r), torch.arange(problem.r)] = False
    i, j = (problem.r_pos > 0).logical_and(off).nonzero(as_tuple=True)
    found = problem.edge_support(problem.r_pos, problem.r_neg, i.numpy(), j.numpy(), 1)
    for c, t, count in zip(i, j, found.reaching["observed"], strict=True):
        reached = sum(problem.rows[int(c)] in _within(true, np.flatnonzero(x), 2) for x in X)
        assert count == (reached if measured[problem.layout[int(t)]] else 0)


def test_evaluate_returns_its_state_and_leaves_the_problem_as_it_was():
    true = small_grn(2, n=20, n_regulators=5, per_regulator=3)
    X = knockouts(true, 2, doubles=3)
    Y = deduce(true, X, 3)
    problem = RefineProblem(corrupt(true, 0.3, 2), X, Y, k=3, tk=1.0, dtype=torch.float64)
    state = {
        name: value.clone() if isinstance(value, torch.Tensor) else value
        for name, value in vars(problem).items()
    }
    r = problem.r
    start = problem.evaluate(problem.r_pos.clone(), problem.r_neg.clone())
    rng = np.random.default_rng(0)
    shift = torch.as_tensor(rng.random(problem.r_pos.shape) * 0.5)
    moved_p = start.wp.clone()
    moved_p[:, r:] += shift[:, r:]
    other_p = start.wp.clone()
    other_p[:, :r] += shift[:, :r]
    other = problem.evaluate(other_p, start.wn)

    # the reach of `start`, not of the last evaluation, serves a point with its regulator block
    expected = problem.data_term(moved_p, start.wn, grad=False)[0][r:]
    assert torch.allclose(problem.outer_columns(moved_p, start.wn, start), expected, rtol=1e-12)
    assert not torch.allclose(problem.outer_columns(moved_p, start.wn, other), expected)
    columns = torch.as_tensor([r + 3, r, problem.r_pos.shape[1] - 1])
    some = problem.outer_columns(moved_p, start.wn, start, columns)
    assert torch.allclose(some, expected[columns - r], rtol=1e-12)
    assert set(vars(problem)) == set(state)
    for name, value in vars(problem).items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value, state[name]), name
    with pytest.raises(dataclasses.FrozenInstanceError):
        start.f = other.f

    f, gp, gn = problem.data_term(start.wp, start.wn)
    assert torch.equal(start.f, f)
    assert start.total == float(f.sum())
    absent_p, absent_n = start.wp == 0, start.wn == 0
    assert torch.equal(start.gp[absent_p], gp[absent_p])
    assert torch.equal(start.gn[absent_n], gn[absent_n])
    assert (start.gp[torch.arange(r), torch.arange(r)] == 0).all()
    assert (start.hp > 0).all() and (start.hn > 0).all()


# --- recovery on a small synthetic GRN -------------------------------------------------


def test_refinement_recovers_removed_and_drops_false_edges(recovery_runs):
    recovered = removed = dropped = added = lost = kept = spurious = candidates = 0
    for true, noisy, result in recovery_runs:
        t, c, r = edge_set(true), edge_set(noisy), edge_set(result.kb)
        recovered += len((t - c) & r)
        removed += len(t - c)
        dropped += len((c - t) - r)
        added += len(c - t)
        lost += len((t & c) - r)
        kept += len(t & c)
        spurious += len(r - t - c)
        signed_pairs = 2 * len(true.regulators) * (true.n_genes - 1)
        candidates += signed_pairs - len(t | c)
    chance = spurious / candidates
    assert recovered / removed > 0.4 and recovered / removed > 20 * chance
    assert dropped / added > 0.75
    assert lost / kept < 0.05


def test_direct_f1_improves(recovery_runs):
    before = [interaction_f1(noisy, true) for true, noisy, _ in recovery_runs]
    after = [interaction_f1(result.kb, true) for true, _, result in recovery_runs]
    assert np.mean(after) > np.mean(before) + 0.05
    assert sum(a > b for a, b in zip(after, before, strict=True)) >= len(before) - 2


def test_inhibitory_edges_survive(recovery_runs):
    n_true = n_after = n_kept = n_both = 0
    for true, noisy, result in recovery_runs:
        negative = {e for e in edge_set(true) & edge_set(noisy) if e[2] == -1}
        after = {e for e in edge_set(result.kb) if e[2] == -1}
        assert after
        n_true += sum(e[2] == -1 for e in edge_set(true))
        n_after += len(after)
        n_both += len(negative)
        n_kept += len(negative & after)
    assert abs(n_after - n_true) <= 0.25 * n_true
    assert n_kept >= 0.95 * n_both


def test_objective_never_increases(recovery_runs):
    for _, _, result in recovery_runs:
        steps = np.diff(result.loss)
        assert (steps <= 1e-6 * max(1.0, result.loss[0])).all()


def test_result_edge_table_and_summary(recovery_runs):
    _, noisy, result = recovery_runs[0]
    table = result.edges
    identity = ["regulator", "target", "sign"]
    assert list(table.columns) == [*identity, *REFINED_EDGE_COLUMNS[3:]]
    assert REFINED_EDGE_COLUMNS[3:6] == ("score", "status", "confidence")
    assert set(table["status"]) <= {"kept", "added", "removed"}
    summary = result.summary
    for status in ("kept", "added", "removed"):
        chosen = table["status"] == status
        assert summary[f"edges_{status}"] == int(chosen.sum())
        assert summary[f"edges_{status}_pos"] + summary[f"edges_{status}_neg"] == chosen.sum()
    before = edge_set(noisy)
    listed = table[table["status"] != "added"]
    assert set(zip(listed["regulator"], listed["target"], listed["sign"], strict=True)) == before
    present = table[table["status"] != "removed"]
    assert set(zip(present["regulator"], present["target"], present["sign"], strict=True)) == (
        edge_set(result.kb)
    )
    assert (table.loc[table["status"] == "removed", "score"] <= 0.5).all()
    assert (table.loc[table["status"] == "added", "score"] > 0.5).all()
    assert result.iterations == len(result.loss) - 1
    assert result.seconds > 0


@pytest.mark.parametrize("penalty", ["l1", "frobenius"])
@pytest.mark.parametrize("relaxation", ["separate", "difference"])
def test_true_kb_with_its_own_data_stays(penalty, relaxation):
    changed = total = 0
    for seed in range(3):
        true = small_grn(seed)
        X = knockouts(true, seed)
        Y = deduce(true, X, K)
        result = refine(
            true, X, Y, RefineOptions(penalty=penalty, relaxation=relaxation, max_iter=20), k=K
        )
        changed += result.summary["edges_added"] + result.summary["edges_removed"]
        total += len(true.edges())
    assert changed <= 0.05 * total


def test_soft_prox_runs_and_keeps_true_kb():
    true = small_grn(2)
    X = knockouts(true, 2)
    Y = deduce(true, X, K)
    result = refine(true, X, Y, RefineOptions(prox="soft", max_iter=10), k=K)
    assert result.summary["edges_removed"] <= 2


def test_no_iterations_returns_the_input_kb_with_both_signs():
    genes = ["a", "b", "c"]
    edges = pd.DataFrame(
        {"regulator": ["a", "a", "b"], "target": ["b", "b", "c"], "sign": [1, -1, -1]}
    )
    kb = compile_kb(edges, genes, conflict="both")
    X = np.array([[-1, 0, 0]])
    result = refine(kb, X, deduce(kb, X, 2), RefineOptions(max_iter=0), k=2)
    assert edge_set(result.kb) == edge_set(kb)
    assert set(result.edges["status"]) == {"kept"}
    assert result.loss and result.iterations == 0


def test_edge_support_hand_case():
    genes = [f"g{i}" for i in range(8)]
    true_edges = [("g0", "g1", "+"), ("g0", "g2", "-"), ("g1", "g3", "+"), ("g4", "g5", "+")]
    columns = ["regulator", "target", "sign"]
    true = compile_kb(pd.DataFrame(true_edges, columns=columns), genes)
    kb = compile_kb(pd.DataFrame([*true_edges, ("g0", "g6", "+")], columns=columns), genes)
    X = np.zeros((2, 8))
    X[0, 0] = X[1, 1] = -1
    result = refine(kb, X, deduce(true, X, 2), RefineOptions(lam=1e6), k=2)
    table = result.edges.set_index(["regulator", "target"])
    assert set(table["status"]) == {"kept"}
    for pair in (("g0", "g1"), ("g0", "g2"), ("g1", "g3")):
        assert table.loc[pair, "support"] > 0.5
    assert table.loc[("g0", "g6"), "support"] < -0.5
    assert table.loc[("g4", "g5"), "support"] == 0.0
    assert table.loc[("g4", "g5"), "n_observed_inputs"] == 0
    assert table.loc[("g1", "g3"), "n_observed_inputs"] == 2
    assert table.loc[("g0", "g1"), "n_observed_inputs"] == 1
    assert (table["n_predicted_inputs"] == 0).all()
    summary = result.summary
    assert (summary["edges_kept_supported"], summary["edges_kept_contradicted"]) == (3, 1)
    assert (summary["edges_kept_no_evidence"], summary["edges_kept_untested"]) == (1, 1)


def _within(kb: KnowledgeBase, start: np.ndarray, k: int) -> set[int]:
    """Genes reached from `start` by at most k direct edges (breadth-first search)."""
    adjacency = (kb.r_pos + kb.r_neg).tocsr()
    seen, frontier = set(start.tolist()), set(start.tolist())
    for _ in range(k):
        frontier = {int(t) for g in frontier for t in adjacency[g].indices} - seen
        seen |= frontier
    return seen


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 3))
def test_edge_support_matches_brute_force(seed, k):
    """Support of a leaf-target edge = f_j(entry 0) - f_j(entry 1) by direct evaluation, and
    n_observed_inputs = inputs whose perturbed genes reach the regulator within k edges."""
    true = small_grn(seed, n=20, n_regulators=5, per_regulator=3)
    noisy = corrupt(true, 0.3, seed)
    X = knockouts(true, seed, doubles=3)
    Y = deduce(true, X, k)
    result = refine(noisy, X, Y, RefineOptions(max_iter=0), k=k)
    problem = RefineProblem(noisy, X, Y, k=k, tk=1.0)
    column = {int(g): c for c, g in enumerate(problem.layout)}
    row = {int(g): i for i, g in enumerate(problem.rows)}
    regulators = set(noisy.regulators.tolist())
    dense = X.toarray()
    for edge in result.edges.itertuples():
        reg, tgt = noisy.index[edge.regulator], noisy.index[edge.target]
        reached = sum(reg in _within(noisy, np.flatnonzero(x), k) for x in dense)
        assert edge.n_observed_inputs == reached
        if tgt in regulators:
            continue
        errors = []
        for value in (0.0, 1.0):
            wp, wn = problem.r_pos.clone(), problem.r_neg.clone()
            (wp if edge.sign == 1 else wn)[row[reg], column[tgt]] = value
            errors.append(float(problem.data_term(wp, wn, grad=False)[0][column[tgt]]))
        assert edge.support == pytest.approx(errors[0] - errors[1], abs=1e-4)


# --- validation ----------------------------------------------------------------------


def test_bad_inputs_raise():
    kb = small_grn(0, n=10, n_regulators=2, per_regulator=2)
    X = np.zeros((3, 10))
    X[0, 0] = -1
    Y = np.zeros((3, 10))
    with pytest.raises(InputError, match="9 columns .* 10 genes"):
        refine(kb, X[:, :9], Y, k=2)
    with pytest.raises(InputError, match="Y_bar has 11 columns"):
        refine(kb, X, np.zeros((3, 11)), k=2)
    with pytest.raises(InputError, match="3 rows .* 2"):
        refine(kb, X, Y[:2], k=2)
    with pytest.raises(InputError, match="perturbation is -1") as error:
        refine(kb, X * 2, Y, k=2)
    assert (error.value.row, error.value.gene) == (0, "g00")
    with pytest.raises(InputError, match="Y_bar holds 0.5"):
        refine(kb, X, Y + 0.5, k=2)
    with pytest.raises(InputError, match="penalty"):
        refine(kb, X, Y, RefineOptions(penalty="l2"), k=2)
    with pytest.raises(InputError, match="k must be"):
        refine(kb, X, Y, k=-1)
    with pytest.raises(InputError, match="lam"):
        refine(kb, X, Y, RefineOptions(lam=-1.0), k=2)


@pytest.mark.parametrize(("lam", "removed"), [(0.9, True), (1.1, False)])
def test_a_saturated_false_edge_is_removed_exactly_when_its_removal_beats_lambda(lam, removed):
    # One false edge a -> b, saturated at tk = 1 (ε(5) = 0.993, gradient ~ e^-5): removing it
    # lowers f by ε(5)² = 0.987 (b's label is 0), so it goes exactly when λ < 0.987.
    edge = pd.DataFrame([("a", "b", 1)], columns=["regulator", "target", "sign"])
    kb = compile_kb(edge, ["a", "b"])
    X = np.array([[-1, 0]])
    Y = np.array([[-1, 0]])
    result = refine(kb, X, Y, RefineOptions(tk=1.0, lam=lam), k=4)
    status = result.edges.set_index(["regulator", "target"])["status"]
    assert status[("a", "b")] == ("removed" if removed else "kept")


def test_refine_options_from_params_takes_the_parameters_dict_and_refuses_unknown_keys():
    options = RefineOptions.from_params({"rounds": 2, "lam": 3.0, "max_iter": 5})
    assert (options.lam, options.max_iter, options.penalty) == (3.0, 5, "l1")
    with pytest.raises(InputError, match="refinement.max_iters"):
        RefineOptions.from_params({"max_iters": 5})
    with pytest.raises(InputError, match="max_iter must be"):
        RefineOptions.from_params({"max_iter": 2.5})
