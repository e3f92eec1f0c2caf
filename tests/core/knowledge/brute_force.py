"""Brute-force references for signed walks (Eq. 1), shared by the closure and walk tests."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays


def enumerate_walks(pos: np.ndarray, neg: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Count walks of exactly `steps` steps with an even / odd number of inhibitions.

    Every node sequence is enumerated; a step u -> v can use the activation and the
    inhibition edge, if present, so each sequence carries (even, odd) choice counts.
    """
    n = len(pos)
    even, odd = np.zeros((n, n), dtype=np.int64), np.zeros((n, n), dtype=np.int64)
    if steps == 0:
        return np.eye(n, dtype=np.int64), odd
    seqs = np.array(list(itertools.product(range(n), repeat=steps + 1)))
    e, o = np.ones(len(seqs), dtype=np.int64), np.zeros(len(seqs), dtype=np.int64)
    for s in range(steps):
        a, b = pos[seqs[:, s], seqs[:, s + 1]], neg[seqs[:, s], seqs[:, s + 1]]
        e, o = e * a + o * b, e * b + o * a
    np.add.at(even, (seqs[:, 0], seqs[:, -1]), e)
    np.add.at(odd, (seqs[:, 0], seqs[:, -1]), o)
    return even, odd


@st.composite
def signed_graphs(draw: st.DrawFn, max_n: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """0/1 matrices R+(0) (self-activation set) and R-(0) of a random signed graph."""
    n = draw(st.integers(1, max_n))
    pos = draw(arrays(np.int64, (n, n), elements=st.integers(0, 1)))
    neg = draw(arrays(np.int64, (n, n), elements=st.integers(0, 1)))
    np.fill_diagonal(pos, 1)
    return pos, neg
