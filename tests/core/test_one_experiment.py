"""A one-experiment run (split strategy none): the balanced prior falls back to e3, the
stages score nothing and the rounds still align and refine."""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
from rounds_problem import problem, round_settings

from aligned_kedro.core import adaptor_prior, align_round, refine_round, score_stage


def one_experiment():
    """The rounds problem with every row in training and no test rows."""
    data, kb = problem()
    everything = np.arange(len(data.X))
    return dataclasses.replace(data, train=everything, test=np.array([], dtype=int)), kb


def test_the_balanced_prior_falls_back_to_e3_with_one_group(caplog):
    data, kb = problem()
    one = dataclasses.replace(data, train=np.array([0]), test=np.array([1]))
    settings = round_settings(weights="balanced")
    with caplog.at_level(logging.WARNING):
        prior = adaptor_prior(one, kb, settings, logger=logging.getLogger("prior"))
    assert prior.stats["prior_fallback_e3"] == 1.0
    assert "falls back to e3" in caplog.text
    e3 = adaptor_prior(one, kb, round_settings(weights="e3"))
    np.testing.assert_array_equal(prior.w, e3.w)
    two_groups = adaptor_prior(data, kb, settings)
    assert two_groups.stats["prior_fallback_e3"] == 0.0
    assert "out_of_fold.folds" in two_groups.stats


def test_without_test_rows_no_stage_is_scored_but_the_rounds_run():
    data, kb = one_experiment()
    settings = round_settings()
    y = data.part("test")[1]
    assert score_stage("baseline.no_change", data, {"y_bar": y, "a": y}, 5.0) == {}
    w = adaptor_prior(data, kb, settings).w
    first = align_round(1, data, kb, w, settings)
    assert not any(name.endswith("balanced_f1") for name in first.metrics)
    assert first.outputs["y_bar"].shape == data.X.shape
    refined = refine_round(1, data, kb, first.model, settings)
    assert "round_1.refine.iterations" in refined.metrics
    assert not any(name.endswith("data_f1") for name in refined.metrics)
