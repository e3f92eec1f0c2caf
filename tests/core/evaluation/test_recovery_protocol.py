"""Interaction recovery on observed evidence (appendix F.3 analogue): which KB edges the
measured responses back, and which refined edges nobody can confirm."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aligned_kedro.core.evaluation import analysis as A
from aligned_kedro.core.knowledge.deduction import deduce
from aligned_kedro.core.knowledge.kb import compile_kb

GENES = list("abcdef")
COLUMNS = ["regulator", "target", "sign"]
# a -> b (leaf), a -| c -> d and a shortcut a -| d, e -> f (e never knocked out)
KB = compile_kb(
    pd.DataFrame(
        [("a", "b", 1), ("a", "c", -1), ("c", "d", 1), ("a", "d", -1), ("e", "f", 1)],
        columns=COLUMNS,
    ),
    GENES,
)


def deduce_at(k: int):
    return lambda kb, X: deduce(kb, X, k)


def knockout(*genes: str) -> np.ndarray:
    x = np.zeros((len(genes), len(GENES)))
    for row, gene in enumerate(genes):
        x[row, GENES.index(gene)] = -1
    return x


def test_responding_edges_are_the_kb_one_explanation_of_a_measured_response():
    X = knockout("a")
    Y = np.zeros((1, 6))
    Y[0, [0, 1, 2, 3]] = [-1, -1, 1, 1]  # b down, c and d up: every edge of a responds
    found = A.responding_edges(KB, X, Y, deduce_at(1))
    # a -| d is a shortcut of a -| c -> d: without it d still goes up; e -> f is untested
    assert found[COLUMNS].values.tolist() == [["a", "b", 1], ["a", "c", -1]]
    every = A.responding_edges(KB, X, Y, deduce_at(1), unexplained=False)
    assert every[COLUMNS].values.tolist() == [["a", "b", 1], ["a", "c", -1], ["a", "d", -1]]


def test_a_response_against_the_edge_sign_or_a_silent_target_does_not_count():
    X = knockout("a", "c")
    Y = np.zeros((2, 6))
    Y[0, 1] = 1  # b goes up when a (its activator) is knocked out: not a -> b's response
    Y[1, 3] = -1  # d goes down when c is knocked out: c -> d responds
    found = A.responding_edges(KB, X, Y, deduce_at(1))
    assert found[COLUMNS].values.tolist() == [["c", "d", 1]]


def test_removals_can_be_drawn_among_given_pairs_only():
    table = KB.edges()
    pairs = pd.DataFrame({"regulator": ["a"], "target": ["b"]})
    kept, removed = A.sample_removals(table, {"a", "c"}, seed=0, count=1, pairs=pairs)
    assert removed[COLUMNS].values.tolist() == [["a", "b", 1]]
    assert len(kept) == len(table) - 1
    with pytest.raises(Exception, match="cannot remove 2"):
        A.sample_removals(table, {"a"}, seed=0, count=2, pairs=pairs)


def test_false_additions_are_refined_edges_in_neither_the_original_nor_the_removed():
    original = KB.edges()
    removed = original.iloc[[0]]
    refined = pd.DataFrame(
        [
            ("a", "b", 1, "added"),  # recovered
            ("a", "e", 1, "added"),  # new: a false addition
            ("a", "f", -1, "removed"),  # not an edge of the refined KB
            ("c", "d", 1, "kept"),
            ("a", "a", 1, "kept"),
        ],
        columns=[*COLUMNS, "status"],
    )
    false = A.false_additions(original, removed, refined)
    assert false[COLUMNS].values.tolist() == [["a", "e", 1]]
    counted = A.count_recovery(removed, refined)
    summary = A.recovery_summary({0: counted}, {0: len(false)}).set_index("replicate")
    assert summary.loc["0", ["recovered", "total", "false_additions"]].tolist() == [1, 1, 1]
    assert summary.loc["mean", "false_additions"] == 1
