"""Refinement edits backed by evidence: observed and predicted inputs, prices per entry
(confidence, additions), skipped inputs without power, and each edit's drivers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aligned_kedro.core.errors import InputError
from aligned_kedro.core.evaluation.refinement_benchmark import corrupt
from aligned_kedro.core.knowledge.deduction import deduce
from aligned_kedro.core.knowledge.kb import compile_kb
from aligned_kedro.core.knowledge.refinement import RefineOptions, RefineProblem, refine

COLUMNS = ["regulator", "target", "sign"]
GAIN = (1 - math.exp(-3)) ** 2  # removing one saturated false edge at k = 2: ε(3)² per input


def kb_of(*edges, genes="abcdefgh", **columns):
    table = pd.DataFrame(list(edges), columns=COLUMNS).assign(**columns)
    return compile_kb(table, list(genes))


def one_hot(genes: str, *perturbed: str, value: int = -1) -> np.ndarray:
    x = np.zeros((len(perturbed), len(genes)))
    for row, gene in enumerate(perturbed):
        x[row, genes.index(gene)] = value
    return x


def status(result) -> dict[tuple[str, str, int], str]:
    edges = result.edges
    keys = zip(edges["regulator"], edges["target"], edges["sign"], strict=True)
    return dict(zip(keys, edges["status"], strict=True))


# --- observed and predicted evidence ---------------------------------------------------

# a -> b is false: knocking a out leaves b unchanged. One observed knockout and three
# predicted ones (the same input, as the unlabelled one-hots repeat a labelled knockout)
# say so; the price is 1.5 squared errors, one contradicting input gains GAIN = 0.90.
GENES = "abcdefgh"
FALSE_EDGE = kb_of(("a", "b", 1), ("c", "d", 1))
X4 = one_hot(GENES, "a", "a", "a", "a")
Y4 = np.zeros((4, 8))
Y4[:, 0] = -1
OBSERVED_FIRST = np.array([True, False, False, False])


@pytest.mark.parametrize(("evidence", "removed"), [("all", True), ("observed", False)])
def test_predicted_inputs_drive_edits_only_under_evidence_all(evidence, removed):
    options = RefineOptions(lam=1.5, lam_add=1e6, evidence=evidence)
    result = refine(FALSE_EDGE, X4, Y4, options, k=2, observed=OBSERVED_FIRST)
    assert status(result)[("a", "b", 1)] == ("removed" if removed else "kept")
    row = result.edges.set_index(["regulator", "target"]).loc[("a", "b")]
    assert row["support_observed"] == pytest.approx(-GAIN, rel=1e-5)
    assert row["support_predicted"] == pytest.approx(-3 * GAIN, rel=1e-5)
    assert (row["n_observed_inputs"], row["n_predicted_inputs"]) == (1, 3)
    fitted = row["support_observed"] + (row["support_predicted"] if evidence == "all" else 0)
    assert row["support"] == pytest.approx(fitted)
    # the three predicted inputs alone pay the price (2.7 > 1.5), the observed one (0.9) not
    assert row["evidence"] == ("predicted" if removed else "none")
    assert result.summary["evidence"] == evidence
    assert result.summary["inputs"] == (4 if evidence == "all" else 1)


def test_observed_inputs_alone_remove_when_they_beat_the_price():
    observed = np.array([True, True, False, False])
    options = RefineOptions(lam=1.5, lam_add=1e6, evidence="observed")
    result = refine(FALSE_EDGE, X4, Y4, options, k=2, observed=observed)
    assert status(result)[("a", "b", 1)] == "removed"
    assert result.summary["edges_removed_by_both"] == 1


def test_unmeasured_genes_give_no_observed_evidence():
    measured = np.ones(8, dtype=bool)
    measured[1] = False  # b was never measured: its label 0 says nothing
    options = RefineOptions(lam=0.5, lam_add=1e6, evidence="observed")
    result = refine(FALSE_EDGE, X4[:1], Y4[:1], options, k=2, measured=measured)
    row = result.edges.set_index(["regulator", "target"]).loc[("a", "b")]
    assert row["status"] == "kept"
    assert (row["support_observed"], row["n_observed_inputs"]) == (0.0, 0)
    assert result.summary["edges_kept_untested"] >= 1


def test_observed_evidence_edits_only_regulators_whose_own_change_was_observed():
    # a -> c -> d; knocking a out changes neither c nor d: the data contradict the path,
    # and only a's edge can be blamed on what was measured (c never moved)
    kb = kb_of(("a", "c", 1), ("c", "d", 1))
    X = one_hot(GENES, "a", "a")
    Y = np.zeros((2, 8))
    Y[:, 0] = -1
    observed = refine(kb, X, Y, RefineOptions(lam=0.5, evidence="observed"), k=2)
    assert status(observed) == {("a", "c", 1): "removed", ("c", "d", 1): "kept"}
    assert observed.summary["editable_rows"] == 1
    price = observed.edges.set_index(["regulator", "target"])["price"]
    assert np.isinf(price[("c", "d")]) and price[("a", "c")] == 0.5
    Y[1, 2] = -1  # c is seen to respond in one knockout: its edge may now change
    again = refine(kb, X, Y, RefineOptions(lam=0.5, evidence="observed"), k=2)
    assert again.summary["editable_rows"] == 2


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 1000), split=st.integers(1, 7))
def test_support_of_the_two_kinds_adds_up_to_the_support_of_all(seed, split):
    rng = np.random.default_rng(seed)
    true = compile_kb(
        pd.DataFrame(
            [(GENES[r], GENES[t], int(rng.choice([-1, 1]))) for r in range(3) for t in (5, 6, 7)],
            columns=COLUMNS,
        ),
        list(GENES),
    )
    noisy = corrupt(true, 0.4, seed)
    X = one_hot(GENES, *"abcabcab")
    Y = deduce(true, X, 2)
    observed = np.arange(8) < split
    kinds = refine(noisy, X, Y, RefineOptions(max_iter=0), k=2, observed=observed).edges
    whole = refine(noisy, X, Y, RefineOptions(max_iter=0), k=2).edges
    total = kinds["support_observed"] + kinds["support_predicted"]
    assert np.allclose(total.fillna(0), whole["support"].fillna(0), atol=1e-5)
    assert np.allclose(kinds["support"].fillna(0), total.fillna(0), atol=1e-5)
    reaching = kinds["n_observed_inputs"] + kinds["n_predicted_inputs"]
    assert (reaching.fillna(0) == whole["n_observed_inputs"].fillna(0)).all()


# --- no edits from empty evidence --------------------------------------------------------


def test_an_observed_input_without_responses_is_skipped_and_named():
    X = one_hot(GENES, "a", "c")
    Y = np.zeros((2, 8))
    Y[1, [2, 3]] = -1  # c's knockout is called; a's has no call at all
    options = RefineOptions(lam=0.5, lam_add=1e6, evidence="observed", min_called_genes=2)
    result = refine(FALSE_EDGE, X, Y, options, k=2, input_names=["ko_a", "ko_c"])
    assert status(result)[("a", "b", 1)] == "kept"
    assert result.skipped == ("ko_a",)
    assert result.summary["observed_inputs_skipped"] == 1
    row = result.edges.set_index(["regulator", "target"]).loc[("a", "b")]
    assert row["n_observed_inputs"] == 0
    without = refine(FALSE_EDGE, X, Y, RefineOptions(lam=0.5, lam_add=1e6), k=2)
    assert status(without)[("a", "b", 1)] == "removed" and without.skipped == ()


def test_predicted_inputs_are_never_skipped_for_few_responses():
    options = RefineOptions(lam=1.5, lam_add=1e6, min_called_genes=5)
    result = refine(FALSE_EDGE, X4, Y4, options, k=2, observed=OBSERVED_FIRST)
    assert result.skipped == ("x0",)
    assert status(result)[("a", "b", 1)] == "removed"  # three predicted inputs, 2.7 > 1.5


# --- confidence-aware prices --------------------------------------------------------------


@pytest.mark.parametrize(
    ("confidence", "weight", "removed"),
    [(np.nan, 1.0, True), (0.0, 1.0, True), (1.0, 1.0, False), (1.0, 0.0, True), (0.5, 0.5, True)],
)
def test_a_confident_edge_costs_more_to_remove(confidence, weight, removed):
    # removing a -> b gains GAIN = 0.90 (one input); the price is 0.6·(1 + w·c)
    kb = kb_of(("a", "b", 1), ("c", "d", 1), confidence=[confidence, np.nan])
    options = RefineOptions(lam=0.6, lam_add=1e6, confidence_weight=weight)
    result = refine(kb, X4[:1], Y4[:1], options, k=2)
    assert status(result)[("a", "b", 1)] == ("removed" if removed else "kept")
    row = result.edges.set_index(["regulator", "target"]).loc[("a", "b")]
    factor = 1 + weight * (0.0 if np.isnan(confidence) else confidence)
    assert row["price"] == pytest.approx(0.6 * factor)
    assert row["confidence"] == pytest.approx(confidence, nan_ok=True)


def test_the_refined_kb_keeps_the_confidence_of_its_edges():
    kb = kb_of(("a", "b", 1), ("c", "d", 1), ("c", "e", -1), confidence=[0.2, 0.9, np.nan])
    result = refine(kb, X4[:1], Y4[:1], RefineOptions(lam=0.6, lam_add=1e6), k=2)
    kept = result.kb.confidence().set_index(["regulator", "target"])["confidence"]
    assert kept.to_dict() == {("c", "d"): 0.9}


# --- additions ----------------------------------------------------------------------------

# The truth has a -> b -> c and a -> d; the KB lacks a -> d (a leaf: nothing else explains
# d's response to a) and b -> c (its shortcut a -> c would explain c's response to a).
TRUE_CHAIN = kb_of(("a", "b", 1), ("b", "c", 1), ("a", "d", -1))
MISSING = kb_of(("a", "b", 1))


@pytest.mark.parametrize(("lam_add", "added"), [(0.5, True), (1.5, False)])
def test_a_missing_leaf_edge_is_added_when_its_support_beats_the_addition_price(lam_add, added):
    X = one_hot(GENES, "a")
    Y = deduce(TRUE_CHAIN, X, 2)
    result = refine(MISSING, X, Y, RefineOptions(lam=1e6, lam_add=lam_add), k=2)
    assert (status(result).get(("a", "d", -1)) == "added") is added
    assert ("a", "d", 1) not in status(result)


def test_a_shortcut_stays_out_where_a_path_can_explain_the_response():
    X = one_hot(GENES, "a", "b")
    Y = deduce(TRUE_CHAIN, X, 2)
    result = refine(MISSING, X, Y, RefineOptions(lam=1e6, lam_add=0.5), k=2)
    found = status(result)
    assert found[("b", "c", 1)] == "added"
    assert ("a", "c", 1) not in found and ("a", "c", -1) not in found
    row = result.edges.set_index(["regulator", "target"]).loc[("b", "c")]
    assert row["price"] == pytest.approx(0.5)
    assert row["evidence"] == "observed"


# --- explanations ---------------------------------------------------------------------


def test_each_edit_names_the_inputs_that_drive_it():
    """Two equal knockouts of a drive the removal as one input of two copies."""
    X = np.vstack([one_hot(GENES, "a", "a"), one_hot(GENES, "c")])
    Y = np.zeros((3, 8))
    Y[:, [0, 2]] = X[:, [0, 2]]
    Y[2, 3] = -1  # c -> d is backed by c's knockout
    result = refine(
        FALSE_EDGE,
        X,
        Y,
        RefineOptions(lam=1.5, lam_add=1e6),
        k=2,
        input_names=["ko_a_1", "ko_a_2", "ko_c"],
    )
    table = result.edges.set_index(["regulator", "target"])
    assert table.loc[("a", "b"), "status"] == "removed"
    assert table.loc[("a", "b"), "drivers"] == "ko_a_1 ×2 (-1.81)"
    assert table.loc[("c", "d"), "drivers"] == "ko_c (+1.00)"


# --- checks ---------------------------------------------------------------------------


def test_bad_evidence_options_and_masks_raise():
    with pytest.raises(InputError, match="evidence"):
        RefineOptions(evidence="some")
    with pytest.raises(InputError, match="min_called_genes"):
        RefineOptions(min_called_genes=-1)
    with pytest.raises(InputError, match="lam_add"):
        RefineOptions(lam_add=-1.0)
    with pytest.raises(InputError, match="observed must be a boolean vector of the 4 inputs"):
        refine(FALSE_EDGE, X4, Y4, k=2, observed=np.ones(3, dtype=bool))
    with pytest.raises(InputError, match="measured"):
        refine(FALSE_EDGE, X4, Y4, k=2, measured=np.ones(8))


def test_a_bad_confidence_names_its_row():
    table = pd.DataFrame([("a", "b", 1, 0.5), ("c", "d", 1, 1.5)], columns=[*COLUMNS, "confidence"])
    with pytest.raises(InputError, match="confidence") as error:
        compile_kb(table, list(GENES), source="kb.csv")
    assert (error.value.row, error.value.gene, error.value.column) == (1, "c", "confidence")
    empty = table.assign(confidence=["", 0.5])
    assert compile_kb(empty, list(GENES)).confidence()["confidence"].tolist() == [0.5]


def test_problem_counts_only_the_fitted_inputs():
    problem = RefineProblem(
        FALSE_EDGE, X4, Y4, k=2, tk=1.0, observed=OBSERVED_FIRST, fit=("observed",)
    )
    assert problem.n_inputs == 1 and len(problem.blocks) == 1
    assert {kind: len(b) for kind, b in problem.evidence.items()} == {
        "observed": 1,
        "predicted": 1,
    }
