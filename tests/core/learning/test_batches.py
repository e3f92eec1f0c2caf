"""Training at scale: distinct inputs with label counts, the fused count cross-entropy and
the row-weighted REINFORCE terms agree with the same computation on the expanded rows; the
linear baseline's one-pass cut-off agrees with scoring every threshold."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from aligned_kedro.core.errors import InputError
from aligned_kedro.core.evaluation.metrics import macro_f1
from aligned_kedro.core.learning import baselines
from aligned_kedro.core.learning.adaptor import normalise_advantages, reinforce_loss
from aligned_kedro.core.learning.baselines import N_THRESHOLDS, LinearBaseline, ternary
from aligned_kedro.core.learning.batches import (
    MAX_BATCH_LOGITS,
    batch_rows,
    distinct_rows,
    label_counts,
    prepare_batches,
)
from aligned_kedro.core.learning.inference import predict
from aligned_kedro.core.learning.models import ModelConfig
from aligned_kedro.core.learning.trained import TrainConfig
from aligned_kedro.core.learning.training import count_cross_entropy, train, train_neural_only

cases = st.tuples(st.integers(1, 6), st.integers(1, 7), st.integers(0, 10**6), st.integers(1, 4))


def _expanded(seed: int, m: int, n: int, repeat: int):
    """Distinct one-hot-ish inputs, each repeated 1..`repeat` times with its own labels."""
    rng = np.random.default_rng(seed)
    X = np.zeros((m, n), dtype=np.int8)
    X[np.arange(m), np.arange(m) % n] = -1
    X[:, 0] = np.where(np.arange(m) >= n, 1, X[:, 0])
    sizes = rng.integers(1, repeat + 1, size=m)
    rows = np.repeat(np.arange(m), sizes)
    rng.shuffle(rows)
    Y = rng.integers(-1, 2, size=(len(rows), n)).astype(np.int8)
    return X, rows, Y


@settings(max_examples=40, deadline=None)
@given(cases)
def test_distinct_rows_and_counts_rebuild_every_row_and_label(case) -> None:
    m, n, seed, repeat = case
    X, rows, Y = _expanded(seed, m, n, repeat)
    first, inverse = distinct_rows(X[rows])
    assert np.array_equal(X[rows][first][inverse], X[rows])
    assert np.all(np.diff(first) > 0)
    counts = label_counts(Y, inverse, len(first))
    assert np.array_equal(
        counts.sum(1), np.broadcast_to(np.bincount(inverse)[:, None], (len(first), n))
    )
    for u in range(len(first)):
        group = Y[inverse == u]
        for c in range(3):
            assert np.array_equal(counts[u, c], (group == c - 1).sum(0))


@settings(max_examples=40, deadline=None)
@given(cases)
def test_count_cross_entropy_is_the_weighted_cross_entropy_of_the_expanded_rows(case) -> None:
    m, n, seed, repeat = case
    X, rows, Y = _expanded(seed, m, n, repeat)
    first, inverse = distinct_rows(X[rows])
    counts = torch.as_tensor(label_counts(Y, inverse, len(first)))
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(len(first), 3, n, dtype=torch.float64, generator=generator) * 3
    weight = torch.rand(3, dtype=torch.float64, generator=generator) + 0.1
    fused = logits.clone().requires_grad_(True)
    plain = logits.clone().requires_grad_(True)
    loss = count_cross_entropy(fused, counts, weight)
    expected = F.cross_entropy(
        plain[torch.as_tensor(inverse)], torch.as_tensor(Y.astype(np.int64) + 1), weight=weight
    )
    loss.backward()
    expected.backward()
    assert float(loss.detach()) == pytest.approx(float(expected.detach()), rel=1e-10)
    assert torch.allclose(fused.grad, plain.grad, rtol=1e-9, atol=1e-12)


def test_count_cross_entropy_of_nothing_counted_is_zero_with_a_zero_gradient() -> None:
    logits = torch.randn(2, 3, 4, requires_grad=True)
    loss = count_cross_entropy(logits, torch.zeros(2, 3, 4, dtype=torch.uint8), torch.ones(3))
    loss.backward()
    assert float(loss) == 0.0 and not logits.grad.any()


@settings(max_examples=40, deadline=None)
@given(cases)
def test_row_weights_act_as_repeated_rows_in_reinforce(case) -> None:
    m, n, seed, repeat = case
    generator = torch.Generator().manual_seed(seed)
    rewards = torch.randn(m, n, dtype=torch.float64, generator=generator)
    logits_a = torch.randn(m, n, dtype=torch.float64, generator=generator)
    a = torch.bernoulli(torch.sigmoid(logits_a), generator=generator)
    sizes = torch.randint(1, repeat + 1, (m,), generator=generator)
    rows = torch.repeat_interleave(torch.arange(m), sizes)
    weights = sizes.to(torch.float64)
    advantages = normalise_advantages(rewards, weights=weights)
    assert torch.allclose(advantages[rows], normalise_advantages(rewards[rows]), atol=1e-9)
    weighted = reinforce_loss(logits_a, a, advantages, weights)
    expanded = reinforce_loss(logits_a[rows], a[rows], advantages[rows])
    assert float(weighted) == pytest.approx(float(expanded), rel=1e-9, abs=1e-12)


def test_batch_rows_split_only_when_the_logits_would_not_fit() -> None:
    assert batch_rows(None, 400, 4_000) == 400
    assert batch_rows(16, 400, 4_000) == 16
    assert batch_rows("auto", 400, 4_000) == 400
    n = 8_000
    rows = batch_rows("auto", 10_000, n)
    assert rows * 3 * n <= MAX_BATCH_LOGITS < (rows + 1) * 3 * n


def test_per_cell_rows_of_one_input_train_as_that_input() -> None:
    """Every input repeated three times with copies of its labels trains f_y as the inputs
    once: the cross-entropy is the same mean, so the models agree to rounding."""
    rng = np.random.default_rng(3)
    n = 12
    X = np.zeros((6, n), dtype=np.int8)
    X[np.arange(6), np.arange(6)] = -1
    Y = rng.integers(-1, 2, size=(6, n)).astype(np.int8)
    cells = np.repeat(np.arange(6), 3)
    config = ModelConfig("mlp", n, hidden=8, layers=1, seed=1)
    tc = TrainConfig(epochs=20, seed=1, device="cpu")
    once = predict(train_neural_only(X, Y, config, tc), X, probabilities=True)
    repeated = predict(train_neural_only(X[cells], Y[cells], config, tc), X, probabilities=True)
    assert np.allclose(once["p_y"], repeated["p_y"], atol=1e-4)


def test_training_reads_each_input_once_and_weights_its_cells() -> None:
    n = 10
    X = np.zeros((9, n), dtype=np.int8)
    X[:, 0] = -1
    X[3:, 1] = -1
    X[6:, 2] = 1
    Y = np.random.default_rng(0).integers(-1, 2, size=(9, n)).astype(np.int8)
    kb = np.tile(np.array([[0, 1, -1, 0, 0, 0, 0, 0, 0, 0]], dtype=np.int8), (9, 1))
    X_u = np.zeros((2, n), dtype=np.int8)
    X_u[:, 5] = -1
    data, _ = prepare_batches(
        X, Y, kb, X_u, kb[:2], np.full(n, 0.5), n, True, TrainConfig(), torch.device("cpu")
    )
    assert data.m_l == 3 and len(data.X) == 5
    assert data.kb.dtype == torch.int8
    assert data.multiplicity.tolist() == [3.0, 3.0, 3.0, 1.0, 1.0]
    assert data.counts.sum().item() == 9 * n
    trained = train(
        X,
        Y,
        kb,
        X_u,
        kb[:2],
        np.full(n, 0.5),
        ModelConfig("mlp", n, hidden=8, layers=1),
        TrainConfig(epochs=3, device="cpu"),
    )
    assert all(np.isfinite(trained.history["loss"]))


def test_rows_of_one_input_with_different_kb_answers_stay_apart() -> None:
    n = 5
    X = np.zeros((4, n), dtype=np.int8)
    X[:, 0] = -1
    kb = np.zeros((4, n), dtype=np.int8)
    kb[2:, 3] = 1
    data, _ = prepare_batches(
        X,
        np.zeros((4, n), dtype=np.int8),
        kb,
        None,
        None,
        np.full(n, 0.5),
        n,
        True,
        TrainConfig(),
        torch.device("cpu"),
    )
    assert data.m_l == 2 and data.multiplicity.tolist() == [2.0, 2.0]
    assert data.kb[:, 3].tolist() == [0, 1]


def test_batch_size_takes_auto_and_refuses_other_words() -> None:
    assert TrainConfig(batch_size="auto").batch_size == "auto"
    with pytest.raises(InputError, match="batch_size must be >= 2"):
        TrainConfig(batch_size="all")


def test_predict_computes_each_input_once_and_answers_every_row() -> None:
    n = 8
    X = np.zeros((3, n), dtype=np.int8)
    X[[0, 1, 2], [0, 1, 2]] = -1
    kb = np.random.default_rng(1).integers(-1, 2, size=(3, n)).astype(np.int8)
    trained = train(
        X,
        kb,
        kb,
        None,
        None,
        np.full(n, 0.5),
        ModelConfig("mlp", n, hidden=8, layers=1),
        TrainConfig(epochs=3, device="cpu"),
    )
    rows = np.array([2, 0, 2, 1, 0, 2])
    once = predict(trained, X, kb, probabilities=True)
    repeated = predict(trained, X[rows], kb[rows], probabilities=True)
    assert set(repeated) == set(once)
    for name, values in once.items():
        assert np.array_equal(repeated[name], values[rows]), name
    other = kb[rows].copy()
    other[4, 5] = 0 if other[4, 5] else 1
    answers = predict(trained, X[rows], other)
    alone = predict(trained, X[rows][4:5], other[4:5])
    for name, values in alone.items():
        assert np.array_equal(answers[name][4:5], values), name
    assert np.array_equal(answers["y_hat"], repeated["y_hat"])


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 40), st.integers(1, 30), st.integers(0, 10**6))
def test_the_linear_baselines_cut_off_is_the_best_of_its_grid_by_brute_force(m, n, seed) -> None:
    """One counting pass picks the τ that scoring every grid value in turn picks."""
    rng = np.random.default_rng(seed)
    scores = np.round(rng.normal(size=(m, n)), int(rng.integers(0, 3)))
    Y = rng.integers(-1, 2, size=(m, n)).astype(np.int8)
    magnitude = np.abs(scores).ravel()
    grid = np.unique(np.quantile(magnitude, np.linspace(0.0, 0.999, N_THRESHOLDS)))
    f1 = [macro_f1(Y, ternary(scores, float(tau)))["f1"] for tau in grid]
    assert LinearBaseline._best_tau(scores, Y) == float(grid[int(np.argmax(f1))])


def test_the_linear_baseline_at_scale_fits_as_the_exact_one(monkeypatch) -> None:
    """Above EXACT_SVD_MAX the top components come from a randomized range finder: on
    labels of a few effects plus noise, the fitted scores match the exact SVD's."""
    rng = np.random.default_rng(4)
    m, n = 60, 80
    X = np.zeros((m, n), dtype=np.int8)
    X[np.arange(m), rng.integers(0, 10, size=m)] = -1
    effects = rng.choice([-1, 0, 1], size=(10, n), p=[0.2, 0.6, 0.2])
    Y = effects[np.argmax(X != 0, axis=1)]
    Y = np.where(rng.random(Y.shape) < 0.05, rng.integers(-1, 2, size=Y.shape), Y)
    exact = LinearBaseline(n_components=5).fit(X, Y)
    monkeypatch.setattr(baselines, "EXACT_SVD_MAX", 10)
    fast = LinearBaseline(n_components=5).fit(X, Y)
    np.testing.assert_allclose(fast.decision_function(X), exact.decision_function(X), atol=1e-6)
