"""The threshold-free data-knowledge agreement: among the entries δ_KB deduces to change,
the share whose measured log2 fold change has the deduced sign."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aligned_kedro.core import compile_kb, deduce
from aligned_kedro.core.errors import InputError
from aligned_kedro.core.knowledge.disagreement import sign_agreement

GENES = ["tf", "a", "b", "c", "d"]
# tf activates a and b, represses c; a activates d (d is no direct target of tf)
EDGES = pd.DataFrame(
    [("tf", "a", 1), ("tf", "b", 1), ("tf", "c", -1), ("a", "d", 1)],
    columns=["regulator", "target", "sign"],
)


def test_known_answer_overall_and_per_regulator():
    kb = compile_kb(EDGES, GENES)
    X = np.array([[-1, 0, 0, 0, 0]])
    kb_pred = deduce(kb, X, 2)
    assert kb_pred.tolist() == [[-1, -1, -1, 1, -1]]
    # a and c move the KB's way, b the other way, d is not measured
    log2fc = np.array([[-3.0, -0.2, 0.1, 0.4, np.nan]])
    summary, per_regulator = sign_agreement(kb_pred, log2fc, X, kb)
    assert summary == {"n_deduced": 3, "n_agreeing": 2, "share_agreeing": pytest.approx(2 / 3)}
    (row,) = per_regulator.to_dict("records")
    assert row == {
        "gene": "tf",
        "n_conditions": 1,
        "n_direct_targets": 3,
        "n_deduced": 3,
        "n_agreeing": 2,
        "share_agreeing": pytest.approx(2 / 3),
    }


def test_a_regulator_without_targets_has_no_share():
    kb = compile_kb(EDGES, GENES)
    X = np.array([[0, 0, 0, 0, -1]])
    summary, per_regulator = sign_agreement(deduce(kb, X, 2), np.zeros((1, 5)), X, kb)
    assert summary["n_deduced"] == 0 and np.isnan(summary["share_agreeing"])
    assert per_regulator["n_direct_targets"].tolist() == [0]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-5, 5, allow_nan=False), min_size=5, max_size=5))
def test_the_share_counts_sign_matches_by_brute_force(values):
    kb = compile_kb(EDGES, GENES)
    X = np.array([[-1, 0, 0, 0, 0]])
    kb_pred = deduce(kb, X, 2)
    log2fc = np.array([values])
    summary, _ = sign_agreement(kb_pred, log2fc, X, kb)
    pairs = [(kb_pred[0, j], values[j]) for j in range(1, 5) if kb_pred[0, j] != 0]
    assert summary["n_deduced"] == len(pairs)
    assert summary["n_agreeing"] == sum(np.sign(v) == d for d, v in pairs)


def test_shapes_must_match():
    kb = compile_kb(EDGES, GENES)
    X = np.array([[-1, 0, 0, 0, 0]])
    with pytest.raises(InputError, match="shape mismatch"):
        sign_agreement(deduce(kb, X, 2), np.zeros((2, 5)), X, kb)
