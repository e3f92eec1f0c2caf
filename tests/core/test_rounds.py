"""Algorithm 1 in core: stage names, the round's data and settings, the adaptor's prior and
two rounds of align and refine on a small synthetic GRN, without Kedro."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rounds_problem import (
    GENES,
    KNOWLEDGE_BASE,
    REFINEMENT,
    TRAINING,
    K,
    non_timing,
    problem,
    round_settings,
)

from aligned_kedro.core import (
    Abstention,
    InputError,
    RoundData,
    RoundSettings,
    adaptor_prior,
    align_round,
    deduce,
    refine_round,
    stage_name,
    stage_names,
)
from aligned_kedro.core.evaluation.refinement_benchmark import corrupt
from aligned_kedro.core.rounds import kb_degree


def test_stage_names_are_the_baselines_then_align_and_refine_of_each_round():
    assert stage_names(2) == [
        "baseline.no_change",
        "baseline.kb_only",
        "baseline.linear",
        "baseline.neural_only",
        "baseline.static_routing",
        "diagnostic.oracle_routing",
        "round_1.align",
        "round_1.refine",
        "round_2.align",
        "round_2.refine",
    ]
    assert stage_name("refine", 3) == "round_3.refine"
    with pytest.raises(InputError, match="unknown stage 'predict'"):
        stage_name("predict", 1)
    with pytest.raises(InputError, match="unknown baseline 'align'"):
        stage_name("align")


def test_round_data_refuses_bad_labels_and_rows_outside_the_matrix():
    data, _ = problem()
    fields = {name: getattr(data, name) for name in ("X", "Y", "kb_pred", "X_u", "genes")}
    bad = data.Y.copy()
    bad[1, 2] = 2
    with pytest.raises(InputError, match="Y"):
        RoundData(**{**fields, "Y": bad}, train=[0], test=[1])
    with pytest.raises(InputError, match="test names row 6 of a matrix of 6 rows"):
        RoundData(**fields, train=[0], test=[6])
    with pytest.raises(InputError, match="10 columns but there are 9 genes"):
        RoundData(**{**fields, "genes": GENES[:-1]}, train=[0], test=[1])
    assert data.rows[0] == "g0" and RoundData(**fields, train=[0], test=[1]).rows[5] == 5


def test_settings_take_the_adaptor_options_out_of_the_training_config():
    found = round_settings(weights="constant", folds=3, random_kb=True)
    assert (found.prior, found.folds, found.random_kb) == ("constant", 3, True)
    assert found.model.n_genes == len(GENES) and found.training.epochs == 3
    assert found.refine.max_iter == 3
    with pytest.raises(InputError, match=r"unknown adaptor weights 'degree'.*training.adaptor"):
        round_settings(weights="degree")


def test_settings_deduce_with_the_knowledge_bases_abstention_rule():
    data, kb = problem()
    assert not round_settings().abstention.active
    ruled = RoundSettings.from_params(
        training=TRAINING,
        knowledge_base={**KNOWLEDGE_BASE, "abstention": {"balance": 0.5, "decay": 0.3}},
        refinement=REFINEMENT,
        k=K,
        seed=0,
        gamma=5.0,
        n_genes=len(GENES),
    )
    assert ruled.abstention == Abstention(0.5, 0.3)
    expected = deduce(kb, data.X, K, abstention=Abstention(0.5, 0.3))
    np.testing.assert_array_equal(ruled.deduce(kb, data.X), expected)
    np.testing.assert_array_equal(round_settings().deduce(kb, data.X), deduce(kb, data.X, K))


def test_each_prior_and_the_kb_degree():
    data, kb = problem()
    assert kb_degree(kb).tolist() == [2, 2, 0, 2, 1, 1, 1, 0, 1, 0]
    constant = adaptor_prior(data, kb, round_settings(weights="constant"))
    assert constant.w.tolist() == [0.5] * len(GENES)
    assert constant.stats["w_above_half"] == 0.0
    first = adaptor_prior(data, kb, round_settings(weights="random")).w
    again = adaptor_prior(data, kb, round_settings(weights="random")).w
    assert np.array_equal(first, again) and ((first >= 0) & (first < 1)).all()
    agreement = adaptor_prior(data, kb, round_settings(weights="agreement")).w
    x, y, kb_pred = data.part("train")
    np.testing.assert_array_equal(agreement, (y == kb_pred).mean(axis=0))


def test_the_balanced_prior_routes_by_out_of_fold_predictions():
    data, kb = problem()
    prior = adaptor_prior(data, kb, round_settings(weights="balanced", folds=2))
    assert set(prior.w.tolist()) <= {0.0, 1.0}
    assert prior.stats["out_of_fold.folds"] == 2
    assert 0 < prior.stats["w_balanced_f1_train"] <= 1


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(-1, 1), min_size=20, max_size=20))
def test_the_prior_reads_the_training_rows_only(test_labels):
    data, kb = problem()
    Y = data.Y.copy()
    Y[data.test] = np.array(test_labels, dtype=np.int8).reshape(2, 10)
    fields = {name: getattr(data, name) for name in ("X", "kb_pred", "X_u", "train", "test")}
    changed = RoundData(**fields, Y=Y, genes=GENES)
    for weights in ("agreement", "e3"):
        chosen = round_settings(weights=weights)
        before = adaptor_prior(data, kb, chosen).w
        np.testing.assert_array_equal(adaptor_prior(changed, kb, chosen).w, before)


def test_round_one_starts_fresh_and_later_rounds_continue():
    data, kb = problem()
    chosen = round_settings()
    w = adaptor_prior(data, kb, chosen).w
    first = align_round(1, data, kb, w, chosen)
    with pytest.raises(InputError, match="round 1 takes no previous"):
        align_round(1, data, kb, w, chosen, previous=first.model)
    with pytest.raises(InputError, match="round 2 needs the previous"):
        align_round(2, data, kb, w, chosen)


def test_two_rounds_align_refine_align_refine():
    data, kb = problem()
    chosen = round_settings()
    w = adaptor_prior(data, kb, chosen).w
    first = align_round(1, data, kb, w, chosen)
    assert first.outputs["y_bar"].shape == data.X.shape
    assert first.metrics["round_1.align.train_loss"] == first.model.history["loss"]
    assert len(first.metrics["round_1.align.train_loss"]) == 3
    refined = refine_round(1, data, kb, first.model, chosen)
    assert refined.kb is refined.refined.kb
    assert refined.metrics["round_1.refine.iterations"] <= 3
    second = align_round(2, data, refined.kb, w, chosen, previous=first.model)
    last = refine_round(2, data, refined.kb, second.model, chosen)
    for metrics, stage in ((second.metrics, "round_2.align"), (last.metrics, "round_2.refine")):
        assert 0 <= metrics[f"{stage}.balanced_f1"] <= 1
        assert 0 <= metrics[f"{stage}.balanced_f1_current"] <= 1
    kept = last.refined.edges.query("status != 'added'")
    assert len(kept) == len(refined.refined.edges.query("status != 'removed'"))
    again = align_round(2, data, refined.kb, w, chosen, previous=first.model)
    assert non_timing(again.metrics) == non_timing(second.metrics)


def test_random_kb_aligns_against_a_rewired_copy_of_the_rounds_kb():
    data, kb = problem()
    chosen = round_settings(random_kb=True)
    w = np.ones(len(GENES))
    result = align_round(1, data, kb, w, chosen)
    used = result.outputs["a"] == 1
    rewired = deduce(corrupt(kb, 1.0, chosen.seed), data.X, K)
    assert used.any()
    np.testing.assert_array_equal(result.outputs["y_bar"][used], rewired[used])
