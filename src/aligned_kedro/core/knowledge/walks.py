"""Signed walks of Eq. 1, shared by the closure (section 2.2) and the relaxed closure of Eq. 6.

Powers of R(0) commute, so row g of R±(k) is the row vector e_g propagated k+1 times
through (R+(0), R-(0)): a step through R+ keeps the sign of a walk and a step through R-
flips it. Only the genes of a block (the KB's regulators, or the refinement's rows) have
outgoing edges other than their self-activation, so propagation runs inside the block;
a walk that leaves it stays on its target's self-activation, so those walks are the
reach (the states before each step) times the block -> outside edges, one product.

The arithmetic is the caller's: exact float64 counts through scipy sparse matrices in
the closure, float32 torch tensors with autograd in refinement. The states are row
vectors multiplied as ``state @ matrix`` (`row_product`), or column vectors multiplied
by the transposed matrices (`column_product`), which is faster for scipy CSR.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

A = TypeVar("A")
Pair = tuple[A, A]
Product = Callable[[A, Any], A]


def row_product(state: A, matrix: Any) -> A:
    """``state @ matrix``: states are row vectors (B x r), matrices as given (r x c)."""
    return state @ matrix


def column_product(state: A, matrix_t: Any) -> A:
    """``matrix_t @ state``: states are column vectors (r x B), matrices transposed (c x r)."""
    return matrix_t @ state


@dataclass(frozen=True)
class Walks(Generic[A]):
    """Signed walks from a set of start states (Eq. 1), as (+, -) pairs.

    Attributes
    ----------
    last
        Walks of exactly k+1 steps that end inside the block: the block's columns of
        R+(k), R-(k) for the start rows.
    reach
        Sum of the states before each step, walks of 0..k steps: with one more step
        through the block -> outside edges (`leave`) they give the columns outside it.
    lead
        Sum of the states weighted by k - m (m the number of steps), when asked for.
    """

    last: Pair
    reach: Pair
    lead: Pair | None = None


def signed_walks(
    start: Pair,
    inner: tuple[Any, Any],
    k: int,
    *,
    product: Product = row_product,
    bound: Callable[[A], A] | None = None,
    lead: bool = False,
) -> Walks[A]:
    """Propagate the start states k+1 times through the signed block (Eq. 1).

    Parameters
    ----------
    start
        (+, -) start states, (B, r) row vectors (e.g. e_g and 0) or (r, B) columns.
    inner
        (R+, R-) restricted to the block, (r, r), transposed for `column_product`.
    k
        Closure depth: k+1 steps.
    product
        How a state meets a matrix (`row_product` or `column_product`).
    bound
        Applied to each new state (e.g. the Boolean clamp, or a check of exactness).
    lead
        Also sum the states weighted by k - m.

    Returns
    -------
    Walks
        The (+, -) states after k+1 steps, the reach and, if asked, the weighted lead,
        each shaped like `start`.
    """
    pos, neg = inner
    state_p, state_n = start
    reach_p, reach_n = state_p, state_n
    lead_p, lead_n = (k * state_p, k * state_n) if lead else (None, None)
    for m in range(k + 1):
        if m:
            reach_p, reach_n = reach_p + state_p, reach_n + state_n
            if lead:
                lead_p, lead_n = lead_p + (k - m) * state_p, lead_n + (k - m) * state_n
        # Eq. 1 on rows: e R+(m+1) = e R+(m) R+ + e R-(m) R-, e R-(m+1) = e R+(m) R- + e R-(m) R+
        state_p, state_n = (
            product(state_p, pos) + product(state_n, neg),
            product(state_p, neg) + product(state_n, pos),
        )
        if bound is not None:
            state_p, state_n = bound(state_p), bound(state_n)
    return Walks(
        last=(state_p, state_n),
        reach=(reach_p, reach_n),
        lead=(lead_p, lead_n) if lead else None,
    )


def leave(
    sums: Pair,
    outer: tuple[Any, Any],
    *,
    product: Product = row_product,
    bound: Callable[[A], A] | None = None,
) -> Pair:
    """Walks that leave the block: one signed step of `sums` through the outer edges.

    Parameters
    ----------
    sums
        (+, -) reach (or lead) of `signed_walks`, (B, r) rows or (r, B) columns.
    outer
        (R+, R-) from the block to the genes outside it, (r, t), transposed (t, r) for
        `column_product`.
    product, bound
        As in `signed_walks`.

    Returns
    -------
    tuple
        (+, -) walks that end outside the block, (B, t) rows or (t, B) columns.
    """
    pos, neg = outer
    sum_p, sum_n = sums
    out_p = product(sum_p, pos) + product(sum_n, neg)
    out_n = product(sum_p, neg) + product(sum_n, pos)
    if bound is not None:
        out_p, out_n = bound(out_p), bound(out_n)
    return out_p, out_n


def real_walks(start: A, inner: Any, k: int, *, lead: bool = False) -> tuple[A, A, A | None]:
    """Propagate row states k+1 times through one real block matrix (B x r @ r x r).

    For R̄+ - R̄- the walks are the difference of the signed ones (Eq. 1: a step through
    R̄- flips a walk's sign), so one product per step replaces four.

    Returns
    -------
    tuple
        The states after k+1 steps, the reach (sum of the states before each step) and,
        if asked, the lead (those states weighted by k - m), as in `Walks`.
    """
    state, reach = start, start
    weighted = k * start if lead else None
    for m in range(k + 1):
        if m:
            reach = reach + state
            if weighted is not None:
                weighted = weighted + (k - m) * state
        state = state @ inner
    return state, reach, weighted
