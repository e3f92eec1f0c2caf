"""Signed path counts reproduce δ_KB exactly (Eq. 1): appendix B.2 and random GRNs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from aligned_kedro.core import compile_kb, deduce
from aligned_kedro.core.knowledge import KnowledgeBase
from aligned_kedro.core.prediction import path_counts, shortest_walks, signed_paths
from aligned_kedro.core.prediction.paths import shortest_path_text

B2 = pd.DataFrame(
    [
        ("g1", "g3", "+"),
        ("g1", "g5", "+"),
        ("g2", "g5", "+"),
        ("g3", "g4", "+"),
        ("g1", "g2", "-"),
        ("g4", "g1", "-"),
        ("g4", "g5", "-"),
    ],
    columns=["regulator", "target", "sign"],
)
GENES = ["g1", "g2", "g3", "g4", "g5"]
PROPERTY = settings(max_examples=80, deadline=None)


@pytest.fixture
def b2() -> KnowledgeBase:
    return compile_kb(B2, GENES)


def enumerated(kb: KnowledgeBase, x: dict[int, int], k: int, variant: str):
    """Positive and negative counts summed over every enumerated walk to every gene."""
    pos, neg = np.zeros(kb.n_genes), np.zeros(kb.n_genes)
    for target in range(kb.n_genes):
        paths = signed_paths(kb, x, target, k, variant)
        if variant == "integer":
            pos[target] = sum(p.weight for p in paths if p.effect > 0)
            neg[target] = sum(p.weight for p in paths if p.effect < 0)
        else:
            pos[target] = len({p.genes[0] for p in paths if p.effect > 0})
            neg[target] = len({p.genes[0] for p in paths if p.effect < 0})
    return pos, neg


@pytest.mark.parametrize(
    ("variant", "k", "expected"),
    [
        ("boolean", 2, [0, -1, 1, 1, 0]),
        ("integer", 2, [0, -1, 1, 1, -1]),
        ("boolean", 4, [0, 0, 0, 0, 0]),
    ],
)
def test_appendix_b2_counts_give_the_papers_deduction(b2, variant, k, expected):
    x = np.array([[1, 0, 0, 0, 0]])
    pos, neg = path_counts(b2, x, k, variant)
    assert np.sign(pos - neg)[0].tolist() == expected
    assert np.array_equal(np.vstack(enumerated(b2, {0: 1}, k, variant)), [pos[0], neg[0]])


def test_appendix_b2_integer_counts_weigh_each_walk_by_its_pauses(b2):
    pos, neg = path_counts(b2, np.array([[1, 0, 0, 0, 0]]), 2, "integer")
    assert pos[0].tolist() == [1, 0, 3, 3, 3] and neg[0].tolist() == [1, 3, 0, 0, 4]
    to_g5 = signed_paths(b2, {0: 1}, 4, 2, "integer")
    assert [(p.genes, p.signs, p.effect, p.weight) for p in to_g5] == [
        ((0, 4), (1,), 1, 3),
        ((0, 1, 4), (-1, 1), -1, 3),
        ((0, 2, 3, 4), (1, 1, -1), -1, 1),
    ]


def test_a_knockout_flips_every_effect(b2):
    up = path_counts(b2, np.array([[1, 0, 0, 0, 0]]), 3)
    down = path_counts(b2, np.array([[-1, 0, 0, 0, 0]]), 3)
    assert np.array_equal(up[0], down[1]) and np.array_equal(up[1], down[0])


def test_shortest_walk_text_reads_with_arrows(b2):
    walks = shortest_walks(b2, np.array([0]), 4)
    names = np.array(GENES, dtype=object)
    assert shortest_path_text(walks, {0: 1}, 4, 1, names) == "g1 -> g5"
    assert shortest_path_text(walks, {0: 1}, 4, -1, names) == "g1 -| g2 -> g5"
    assert shortest_path_text(walks, {0: -1}, 1, 1, names) == "g1 -| g2"
    assert shortest_path_text(shortest_walks(b2, np.array([0]), 0), {0: 1}, 3, 1, names) == ""


@st.composite
def grns_and_inputs(draw: st.DrawFn):
    n = draw(st.integers(1, 6))
    pos = draw(arrays(np.int8, (n, n), elements=st.integers(0, 1)))
    neg = draw(arrays(np.int8, (n, n), elements=st.integers(0, 1)))
    m = draw(st.integers(1, 3))
    x = np.zeros((m, n), dtype=np.int8)
    for row in range(m):
        genes = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=min(3, n), unique=True))
        x[row, genes] = draw(
            st.lists(st.sampled_from([-1, 1]), min_size=len(genes), max_size=len(genes))
        )
    k = draw(st.integers(0, 3))
    variant = draw(st.sampled_from(["integer", "boolean"]))
    margin = draw(st.sampled_from([0.0, 0.0, 1.0, 2.5]))
    genes = tuple(f"g{i}" for i in range(n))
    return KnowledgeBase(genes, sp.csr_matrix(pos), sp.csr_matrix(neg)), x, k, variant, margin


@PROPERTY
@given(grns_and_inputs())
def test_path_counts_reproduce_deduction_on_random_grns(case):
    kb, x, k, variant, margin = case
    pos, neg = path_counts(kb, x, k, variant)
    value = pos - neg
    delta = np.where(np.abs(value) > margin, np.sign(value), 0)
    assert np.array_equal(delta, deduce(kb, x, k, variant, margin))
    for row in range(len(x)):
        sources = {int(g): int(x[row, g]) for g in np.flatnonzero(x[row])}
        assert np.array_equal(np.vstack(enumerated(kb, sources, k, variant)), [pos[row], neg[row]])


@PROPERTY
@given(grns_and_inputs())
def test_the_shortest_walk_is_as_short_as_any_walk_of_its_effect(case):
    kb, x, k, _, _ = case
    sources = {int(g): int(x[0, g]) for g in np.flatnonzero(x[0])}
    walks = shortest_walks(kb, np.array(sorted(sources)), k)
    names = np.array(kb.genes, dtype=object)
    for target in range(kb.n_genes):
        paths = signed_paths(kb, sources, target, k, "integer")
        for effect in (1, -1):
            lengths = [p.length for p in paths if p.effect == effect]
            text = shortest_path_text(walks, sources, target, effect, names)
            assert (text == "") == (not lengths)
            if lengths:
                assert text.count(" ") // 2 == min(lengths)
                assert text.split(" ")[-1] == kb.genes[target]
