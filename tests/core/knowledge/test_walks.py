"""The signed-walk kernel of Eq. 1 against brute-force walk enumeration, in every arithmetic
its callers use: numpy rows, scipy sparse columns (the closure), torch rows (refinement)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from brute_force import enumerate_walks, signed_graphs
from hypothesis import given, settings
from hypothesis import strategies as st

from aligned_kedro.core.knowledge.walks import (
    column_product,
    leave,
    row_product,
    signed_walks,
)

PROPERTY = settings(max_examples=60, deadline=None)


@st.composite
def blocked_graphs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int]:
    """A signed graph whose first r genes (the block) alone have edges besides the
    self-activation, as the regulators of a KB."""
    pos, neg = draw(signed_graphs())
    r = draw(st.integers(1, len(pos)))
    pos[r:] = np.eye(len(pos), dtype=np.int64)[r:]
    neg[r:] = 0
    return pos, neg, r


def kernel(pos: np.ndarray, neg: np.ndarray, r: int, k: int, backend: str):
    """Walks of the kernel from every block gene, as numpy rows: (last, reach, lead, out)."""
    inner, outer = (pos[:r, :r], neg[:r, :r]), (pos[:r, r:], neg[:r, r:])
    start = np.eye(r)
    if backend == "torch":
        start = torch.as_tensor(start)
        inner = tuple(torch.as_tensor(m, dtype=torch.float64) for m in inner)
        outer = tuple(torch.as_tensor(m, dtype=torch.float64) for m in outer)
    if backend == "scipy_columns":
        inner = tuple(sp.csr_matrix(m.T, dtype=np.float64) for m in inner)
        outer = tuple(sp.csr_matrix(m.T, dtype=np.float64) for m in outer)
    product = column_product if backend == "scipy_columns" else row_product
    zero = start * 0
    walks = signed_walks((start, zero), inner, k, product=product, lead=True)
    out = leave(walks.reach, outer, product=product)

    def rows(pair):
        arrays = [np.asarray(a) for a in pair]
        return [a.T if backend == "scipy_columns" else a for a in arrays]

    return rows(walks.last), rows(walks.reach), rows(walks.lead), rows(out)


@PROPERTY
@given(
    graph=blocked_graphs(),
    k=st.integers(0, 4),
    backend=st.sampled_from(["numpy_rows", "scipy_columns", "torch"]),
)
def test_kernel_counts_signed_walks(
    graph: tuple[np.ndarray, np.ndarray, int], k: int, backend: str
) -> None:
    pos, neg, r = graph
    last, reach, lead, out = kernel(pos, neg, r, k, backend)
    even, odd = enumerate_walks(pos, neg, k + 1)
    # walks of exactly k+1 steps: inside the block from the last state, outside from the reach
    np.testing.assert_array_equal(last[0], even[:r, :r])
    np.testing.assert_array_equal(last[1], odd[:r, :r])
    np.testing.assert_array_equal(out[0], even[:r, r:])
    np.testing.assert_array_equal(out[1], odd[:r, r:])
    shorter = [enumerate_walks(pos, neg, m) for m in range(k + 1)]
    for sign in (0, 1):
        np.testing.assert_array_equal(reach[sign], sum(w[sign][:r, :r] for w in shorter))
        np.testing.assert_array_equal(
            lead[sign], sum((k - m) * w[sign][:r, :r] for m, w in enumerate(shorter))
        )


def test_bound_applies_to_every_state_and_to_the_exit() -> None:
    pos = np.ones((3, 3), dtype=np.int64)
    neg = np.zeros((3, 3), dtype=np.int64)
    seen = []

    def bound(values: np.ndarray) -> np.ndarray:
        seen.append(values.copy())
        return np.minimum(values, 1.0)

    walks = signed_walks((np.eye(2), np.zeros((2, 2))), (pos[:2, :2], neg[:2, :2]), 2, bound=bound)
    out = leave(walks.reach, (pos[:2, 2:], neg[:2, 2:]), bound=bound)
    assert len(seen) == 2 * 3 + 2
    assert seen[2].max() == 2.0
    np.testing.assert_array_equal(walks.last[0], np.ones((2, 2)))
    np.testing.assert_array_equal(out[0], np.ones((2, 1)))
