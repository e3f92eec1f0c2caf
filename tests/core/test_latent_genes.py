"""Latent genes (KB genes without a measurement) are never scored: the stage scores, the
adaptor's prior, f_y's cross-entropy and the linear baseline's threshold read the measured
genes only, and an all-measured mask changes nothing."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from rounds_problem import GENES, problem, round_settings

from aligned_kedro.core import (
    InputError,
    LinearBaseline,
    RoundData,
    adaptor_prior,
    inconsistency_report,
    predict,
    score_stage,
    train_neural_only,
)

LATENT = [7, 9]  # g7 and g9: their labels are noise the scores must not see


def with_latent(data: RoundData, noise: int) -> RoundData:
    """`data` with g7 and g9 latent, their labels replaced by seeded noise."""
    Y = data.Y.copy()
    Y[:, LATENT] = np.random.default_rng(noise).integers(-1, 2, size=(len(Y), len(LATENT)))
    measured = np.ones(len(GENES), dtype=bool)
    measured[LATENT] = False
    return dataclasses.replace(data, Y=Y, measured=measured)


def test_the_mask_is_checked_and_defaults_to_every_gene():
    data, _ = problem()
    assert data.all_measured and data.scored(data.Y) is data.Y
    with pytest.raises(InputError, match="measured must be a boolean vector of 10 genes"):
        dataclasses.replace(data, measured=np.ones(9, dtype=bool))
    latent = with_latent(data, 0)
    assert latent.scored(latent.Y).shape == (len(data.Y), len(GENES) - 2)


def test_scores_read_the_measured_genes_only():
    data, _ = problem()
    first, second = with_latent(data, 1), with_latent(data, 2)
    _, y, kb_pred = first.part("test")
    outputs = {"y_bar": kb_pred.copy(), "a": np.ones_like(kb_pred)}
    scores = score_stage("s", first, outputs, 5.0, current_kb=kb_pred)
    assert scores == score_stage("s", second, outputs, 5.0, current_kb=kb_pred)
    changed = outputs["y_bar"].copy()
    changed[:, LATENT] = 1 - changed[:, LATENT]
    assert scores == score_stage("s", first, {**outputs, "y_bar": changed}, 5.0, kb_pred)
    assert scores != score_stage("s", data, {**outputs, "y_bar": changed}, 5.0, kb_pred)
    kept = [g for g in range(len(GENES)) if g not in LATENT]
    sliced = dataclasses.replace(
        first,
        X=first.X[:, kept],
        Y=first.Y[:, kept],
        kb_pred=first.kb_pred[:, kept],
        X_u=first.X_u[:, kept],
        genes=[GENES[g] for g in kept],
        measured=None,
    )
    expected = {**outputs, "y_bar": kb_pred[:, kept], "a": outputs["a"][:, kept]}
    assert scores == score_stage("s", sliced, expected, 5.0, current_kb=kb_pred[:, kept])


@pytest.mark.parametrize("weights", ["balanced", "e3", "constant"])
def test_the_prior_routes_latent_genes_to_the_kb_and_ignores_their_labels(weights: str):
    data, kb = problem()
    first = adaptor_prior(with_latent(data, 1), kb, round_settings(weights=weights))
    second = adaptor_prior(with_latent(data, 2), kb, round_settings(weights=weights))
    assert first.w[LATENT].tolist() == [1.0, 1.0]
    np.testing.assert_array_equal(first.w, second.w)
    assert first.stats == pytest.approx(
        {k: v for k, v in second.stats.items() if "seconds" not in k}
        | {k: v for k, v in first.stats.items() if "seconds" in k}
    )


def test_f_y_never_learns_from_a_latent_gene():
    data, _ = problem()
    settings = round_settings()
    models = [
        train_neural_only(*latent.part("train")[:2], settings.model, settings.training, **mask)
        for latent, mask in (
            (with_latent(data, 1), {"measured": with_latent(data, 1).measured}),
            (with_latent(data, 2), {"measured": with_latent(data, 2).measured}),
            (with_latent(data, 2), {}),
        )
    ]
    outputs = [predict(model, data.X)["y_hat"] for model in models]
    np.testing.assert_array_equal(outputs[0], outputs[1])
    assert models[0].history["ce"] == models[1].history["ce"]
    assert models[0].history["ce"] != models[2].history["ce"]


def test_the_linear_baseline_chooses_its_threshold_on_measured_genes():
    data, _ = problem()
    first, second = with_latent(data, 1), with_latent(data, 2)
    fitted = [
        LinearBaseline(n_components=2).fit(*d.part("train")[:2], measured=d.measured)
        for d in (first, second)
    ]
    assert fitted[0].tau == fitted[1].tau


def test_the_inconsistency_report_neither_counts_nor_tests_latent_genes():
    data, kb = problem()
    first, second = with_latent(data, 1), with_latent(data, 2)
    reports = [
        inconsistency_report(d.X, d.Y, kb, 2, genes=GENES, measured=d.measured)[0]
        for d in (first, second)
    ]
    assert reports[0] == reports[1]
    every, _ = inconsistency_report(data.X, data.Y, kb, 2, genes=GENES)
    # no KB edge ends at g7 or g9: the same direct edges are tested; hiding g3, a target
    # of the knocked-out g0, leaves its edge untested
    assert reports[0]["n_direct_tested"] == every["n_direct_tested"]
    hidden = dataclasses.replace(data, measured=np.arange(len(GENES)) != 3)
    assert (
        inconsistency_report(data.X, data.Y, kb, 2, genes=GENES, measured=hidden.measured)[0][
            "n_direct_tested"
        ]
        < every["n_direct_tested"]
    )
