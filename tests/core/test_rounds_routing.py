"""What the adaptor's routing adds, per stage and against static and oracle routing on the
same split: the metrics, the baselines, and an adaptive A-R-A-R on a small synthetic GRN."""

from __future__ import annotations

import numpy as np
import pytest
from rounds_problem import GENES, problem, round_settings

from aligned_kedro.core import (
    adaptor_prior,
    align_round,
    combine,
    consistency_scores,
    refine_round,
    routing_baselines,
    routing_scores,
    stage_name,
)
from aligned_kedro.core.rounds.routing import route_evidence, static_routing


def test_static_routing_takes_the_kb_where_w_is_at_least_one_half():
    w = np.array([0.5, 0.49, 1.0])
    y_hat, kb_pred = np.array([[1, 1, 1]]), np.array([[-1, -1, 0]])
    found = static_routing(w, y_hat, kb_pred)
    np.testing.assert_array_equal(found["a"], [[1, 0, 1]])
    np.testing.assert_array_equal(found["y_bar"], [[-1, 1, 0]])


def test_a_static_adaptor_gains_nothing_over_static_routing():
    """The default adaptor routes by w alone: its stage equals static routing with its own
    f_y, every gene takes one route, and the oracle is no worse."""
    data, kb = problem()
    chosen = round_settings(weights="constant")
    w = np.array([1.0, 0.0] * 5)
    first = align_round(1, data, kb, w, chosen)
    metrics = first.metrics
    assert metrics["round_1.align.static_gain"] == 0.0
    assert metrics["round_1.align.route_switch_share"] == 0.0
    assert metrics["round_1.align.kb_usage_input_sd"] == 0.0
    assert metrics["round_1.align.kb_usage_input_min"] == 0.5
    assert metrics["round_1.align.oracle_balanced_f1"] >= metrics["round_1.align.balanced_f1"]
    assert route_evidence(chosen, kb, data.X) is None
    refined = refine_round(1, data, kb, first.model, chosen, w=w)
    assert refined.metrics["round_1.refine.static_gain"] == 0.0
    assert (
        "round_1.refine.static_gain" not in refine_round(1, data, kb, first.model, chosen).metrics
    )


def test_routing_scores_compare_the_stage_with_static_routing_of_the_same_f_y():
    data, _ = problem()
    _, y, kb_pred = data.part("test")
    y_hat = np.zeros_like(y)
    a = np.zeros_like(y)
    a[0, :] = 1
    outputs = {"a": a, "y_hat": y_hat, "y_bar": combine(a, y_hat, kb_pred)}
    w = np.zeros(len(GENES))
    found = routing_scores("s", data, outputs, w, 5.0, kb_pred)
    stage = consistency_scores(y, outputs["y_bar"], kb_pred, 5.0)["balanced_f1"]
    static = consistency_scores(y, y_hat, kb_pred, 5.0)["balanced_f1"]
    assert found["s.static_balanced_f1"] == pytest.approx(static)
    assert found["s.static_gain"] == pytest.approx(stage - static)
    assert found["s.kb_usage_input_max"] == 1.0 and found["s.kb_usage_input_min"] == 0.0
    answers_twice = ((kb_pred != 0).sum(axis=0) >= 2).sum()
    switched = ((kb_pred[0] != 0) & (kb_pred[1] != 0)).sum()
    assert found["s.route_switch_share"] == pytest.approx(switched / max(answers_twice, 1))
    assert found["s.oracle_balanced_f1"] >= max(stage, static) - 1e-12


def test_the_routing_baselines_score_static_and_oracle_routing_of_the_same_f_y():
    data, _ = problem()
    _, y, kb_pred = data.part("test")
    y_hat = np.zeros_like(y)
    w = np.array([1.0, 0.0] * 5)
    found = routing_baselines(data, y_hat, w, 5.0)
    static, oracle = stage_name("static_routing"), stage_name("oracle_routing")
    assert (static, oracle) == ("baseline.static_routing", "diagnostic.oracle_routing")
    routed = combine(np.broadcast_to(w >= 0.5, y.shape), y_hat, kb_pred)
    expected = consistency_scores(y, routed, kb_pred, 5.0)["balanced_f1"]
    assert found[f"{static}.balanced_f1"] == pytest.approx(expected)
    assert found[f"{static}.route_switch_share"] == 0.0
    assert found[f"{oracle}.balanced_f1"] >= expected


def test_an_adaptive_a_r_a_r_fits_its_prior_and_routes_by_input():
    data, kb = problem()
    chosen = round_settings(weights="balanced", folds=2, routing="adaptive", route_hidden=4)
    assert chosen.model.routing == "adaptive" and chosen.route_prior == "fitted"
    prior = adaptor_prior(data, kb, chosen)
    assert prior.route is not None and "training.route_prior.balanced_f1_train" not in prior.stats
    assert 0 <= prior.stats["route_prior.balanced_f1_train"] <= 1
    first = align_round(1, data, kb, prior.w, chosen, route=prior.route)
    refined = refine_round(1, data, kb, first.model, chosen, w=prior.w)
    second = align_round(
        2, data, refined.kb, prior.w, chosen, previous=first.model, route=prior.route
    )
    last = refine_round(2, data, refined.kb, second.model, chosen, w=prior.w)
    for metrics, stage in ((second.metrics, "round_2.align"), (last.metrics, "round_2.refine")):
        assert 0 <= metrics[f"{stage}.route_switch_share"] <= 1
        assert metrics[f"{stage}.oracle_balanced_f1"] >= metrics[f"{stage}.balanced_f1"] - 1e-12
    unfitted = adaptor_prior(data, kb, round_settings(routing="adaptive", route_prior="none"))
    assert unfitted.route is None
