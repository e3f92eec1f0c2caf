"""The statistics behind the labels: Benjamini-Hochberg against brute force, the
inverse trigamma, and the variance prior recovered from known answers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special, stats

from aligned_kedro.core.data.statistics import (
    benjamini_hochberg,
    fit_variance_prior,
    trigamma_inverse,
)


def brute_force_bh(p: np.ndarray) -> np.ndarray:
    m = len(p)
    q = np.empty(m)
    for i in range(m):
        candidates = [min(1.0, m * p[j] / np.sum(p <= p[j])) for j in range(m) if p[j] >= p[i]]
        q[i] = min(candidates)
    return q


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(st.floats(0, 1), st.sampled_from([0.0, 0.01, 0.5, 1.0])),
        min_size=1,
        max_size=40,
    )
)
def test_benjamini_hochberg_matches_brute_force(values):
    p = np.asarray(values)
    q = benjamini_hochberg(p)
    np.testing.assert_allclose(q, brute_force_bh(p), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(q, stats.false_discovery_control(p), rtol=1e-12, atol=1e-15)


@settings(max_examples=60, deadline=None)
@given(st.floats(1e-5, 1e5))
def test_trigamma_inverse_inverts_trigamma(x):
    y = trigamma_inverse(x)
    assert y > 0
    np.testing.assert_allclose(special.polygamma(1, y), x, rtol=1e-6)


def test_fit_variance_prior_recovers_known_prior():
    rng = np.random.default_rng(11)
    d, d0, s0_2 = 4, 6.0, 0.5
    sigma2 = d0 * s0_2 / rng.chisquare(d0, 20000)
    s2 = sigma2 * rng.chisquare(d, 20000) / d
    d0_hat, s0_2_hat = fit_variance_prior(s2, d)
    assert d0_hat == pytest.approx(d0, rel=0.15)
    assert s0_2_hat == pytest.approx(s0_2, rel=0.05)


def test_fit_variance_prior_gives_infinite_d0_without_extra_variation():
    rng = np.random.default_rng(12)
    s2 = 0.5 * rng.chisquare(4, 20000) / 4
    d0, s0_2 = fit_variance_prior(np.append(s2, [0.0, 0.0]), 4)
    assert d0 == np.inf or d0 > 100
    assert s0_2 == pytest.approx(0.5, rel=0.05)
