"""Predictions, the long table, explanations, the bundle's checks and the output formats."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pandas as pd
import pytest
import small_bundle
import torch

from aligned_kedro.core import Abstention, deduce, predict
from aligned_kedro.core.errors import InputError
from aligned_kedro.core.learning import (
    ModelConfig,
    TrainedModel,
    build_model,
    from_state,
    to_state,
)
from aligned_kedro.core.learning.routing import path_evidence
from aligned_kedro.core.prediction import (
    TABLE_COLUMNS,
    Bundle,
    de_table,
    explain,
    measured_test_requests,
    parse_requests,
    predict_requests,
    prediction_table,
    resolve_requests,
    response_summary,
    to_anndata,
)
from aligned_kedro.core.prediction.predictions import observed


@pytest.fixture(name="bundle")
def bundle_fixture() -> Bundle:
    return small_bundle.bundle()


def ask(bundle: Bundle, perturbations):
    requests = parse_requests(perturbations)
    table, X = resolve_requests(requests, bundle.genes, bundle.gene_ids, bundle.synonyms)
    return predict_requests(bundle, table, X)


def test_predictions_are_the_models_y_bar_against_the_refined_kb(bundle: Bundle):
    prediction = ask(bundle, "crp;fnr+narK;gadE;dps")
    X = prediction.X.toarray()
    delta = deduce(bundle.kb, X, bundle.k, "integer")
    expected = predict(bundle.model, X, delta)
    assert np.array_equal(prediction.delta, delta)
    assert np.array_equal(prediction.y_bar, expected["y_bar"])
    assert np.array_equal(prediction.a, expected["a"])
    assert np.allclose(prediction.probabilities.sum(-1), 1, atol=1e-5)
    assert np.array_equal(prediction.probabilities.argmax(-1) - 1, prediction.y_hat)


def test_an_adaptive_adaptor_routes_with_the_refined_kbs_path_evidence():
    state = copy.deepcopy(small_bundle.state())
    static = from_state(state["model_state"])
    config = ModelConfig(**{**static.model_config.to_dict(), "routing": "adaptive"})
    model = build_model(config, static.edge_index)
    model.load_state_dict(static.model.state_dict(), strict=False)
    with torch.no_grad():
        for parameter in model.route_head.parameters():
            parameter.normal_(0.0, 2.0)
    adaptive = TrainedModel(model, config, static.train_config, True, {}, static.edge_index)
    state["model_state"] = to_state(adaptive)
    bundle = Bundle.from_state(state)
    prediction = ask(bundle, "crp;fnr+narK;gadE")
    X = prediction.X.toarray()
    evidence = path_evidence(bundle.kb, X, bundle.k)
    expected = predict(bundle.model, X, bundle.deduce(X), evidence)
    np.testing.assert_array_equal(prediction.a, expected["a"])
    np.testing.assert_array_equal(prediction.y_bar, expected["y_bar"])
    assert 0 < prediction.a.mean() < 1


def test_measured_test_conditions_reproduce_the_final_stages_y_bar(bundle: Bundle):
    requests, X = measured_test_requests(bundle)
    assert requests["perturbation"].tolist() == ["c_narK", "c_crp_fnr"]
    prediction = predict_requests(bundle, requests, X)
    delta = deduce(bundle.kb, X, bundle.k)
    assert np.array_equal(prediction.y_bar, predict(bundle.model, X, delta)["y_bar"])
    seen = observed(bundle, prediction)
    assert np.array_equal(seen, bundle.measured.Y[[2, 3]].toarray())


def test_the_long_table_has_every_gene_of_every_request(bundle: Bundle):
    prediction = ask(bundle, "crp;fnr+narK")
    table = prediction_table(bundle, prediction)
    assert list(table.columns) == list(TABLE_COLUMNS)
    assert len(table) == 2 * 7
    crp = table[table["perturbation"].eq("crp")].set_index("gene_name")
    assert crp.loc["fnr", "path"] == "crp -| fnr" and crp.loc["fnr", "delta_kb"] == 1
    assert crp.loc["gadE", "path"] == "crp -| fnr -| gadE"
    assert crp.loc["dps", "path"] == "" and crp.loc["dps", "paths_pos"] == 0
    assert crp["measured"].all() and set(crp["split"]) == {"train"}
    assert crp["observed"].tolist() == bundle.measured.Y[0].toarray()[0].tolist()
    pair = table[table["perturbation"].eq("fnr+narK")]
    assert not pair["measured"].any() and pair["observed"].isna().all()
    assert set(table["source"]) <= {"kb", "neural"}
    assert (table["source"].eq("kb") == (prediction.a.ravel() == 1)).all()
    assert (table["prediction"] == prediction.y_bar.ravel()).all()


def test_a_measured_perturbation_with_disagreeing_conditions_has_no_observed_label(bundle: Bundle):
    table = prediction_table(bundle, ask(bundle, "fnr"))
    assert table["split"].eq("train").all()
    dps = table.set_index("gene_name").loc["dps"]
    assert pd.isna(dps["observed"])


def test_top_keeps_the_most_confident_responding_genes(bundle: Bundle):
    prediction = ask(bundle, "crp;fnr")
    table = prediction_table(bundle, prediction, top=2)
    assert (table["prediction"] != 0).all()
    assert table.groupby("perturbation").size().max() <= 2
    confidence = prediction.confidence()
    first = table[table["perturbation"].eq("crp")]
    cols = [bundle.gene_ids.index(g) for g in first["gene_id"]]
    assert list(confidence[0, cols]) == sorted(confidence[0, cols], reverse=True)
    with pytest.raises(InputError, match="top must be"):
        prediction_table(bundle, prediction, top=0)


def test_confidence_is_p_kb_for_a_kb_answer_and_f_ys_class_probability_else(bundle: Bundle):
    prediction = ask(bundle, "crp;fnr+narK")
    routed = np.indices(prediction.a.shape).sum(0) % 2
    table = prediction_table(bundle, dataclasses.replace(prediction, a=routed.astype(np.int8)))
    kb = table["source"].eq("kb")
    assert kb.any() and (~kb).any()
    assert (table.loc[kb, "confidence"] == table.loc[kb, "p_kb"]).all()
    neural = table[~kb]
    chosen = neural[["p_down", "p_none", "p_up"]].to_numpy()[
        np.arange(len(neural)), neural["neural"].to_numpy() + 1
    ]
    assert (neural["confidence"].to_numpy() == chosen).all()


def test_the_response_summary_counts_moved_genes_by_source(bundle: Bundle):
    prediction = ask(bundle, "crp;fnr+narK;dps")
    summary = response_summary(prediction)
    assert summary["perturbation"].tolist() == ["crp", "fnr+narK", "dps"]
    assert summary["measured"].tolist() == [True, False, False]
    for i, row in summary.iterrows():
        y_bar, a = prediction.y_bar[i], prediction.a[i]
        assert (row["up"], row["down"]) == ((y_bar == 1).sum(), (y_bar == -1).sum())
        assert row["from_kb"] == ((y_bar != 0) & (a == 1)).sum()
        assert row["from_kb"] + row["from_neural"] == row["up"] + row["down"]
    assert summary["up"].sum() + summary["down"].sum() > 0


def test_explain_lists_signed_paths_with_the_counts_of_delta(bundle: Bundle):
    prediction = ask(bundle, "crp")
    explanation = explain(bundle, prediction.requests, prediction.X, 4, limit=10)
    assert explanation.gene_name == "soxS"
    assert (explanation.paths_pos, explanation.paths_neg) == (
        prediction.pos[0, 4],
        prediction.neg[0, 4],
    )
    weights = explanation.paths.groupby("effect")["weight"].sum()
    assert weights.get(1, 0) == explanation.paths_pos
    assert weights.get(-1, 0) == explanation.paths_neg
    assert explanation.delta_kb == int(np.sign(explanation.paths_pos - explanation.paths_neg))
    assert list(explanation.paths["interactions"]) == sorted(explanation.paths["interactions"])
    assert explanation.paths["path"].iloc[0] == "crp -> soxS"
    assert explanation.removed_paths["path"].tolist() == ["crp -> narK -> arcA -| soxS"]
    assert explanation.removed_paths["removed"].tolist() == ["arcA -| soxS"]
    assert explanation.source in ("kb", "neural") and 0 <= explanation.p_kb <= 1
    assert sum(explanation.probabilities.values()) == pytest.approx(1, abs=1e-5)
    assert explanation.training["kb"].tolist() == ["original", "refined"]
    assert (explanation.training["conditions"] == 4).all()
    assert "crp -> soxS" in str(explanation)


def test_explain_marks_edges_refinement_added(bundle: Bundle):
    prediction = ask(bundle, "crp")
    assert len(explain(bundle, prediction.requests, prediction.X, 4, limit=1).paths) == 1
    gade = explain(bundle, prediction.requests, prediction.X, bundle.gene_ids.index("b0006"))
    assert gade.paths["path"].tolist() == ["crp -| fnr -| gadE"]
    assert gade.paths["added"].tolist() == ["fnr -| gadE"]
    assert gade.delta_kb == -1 and gade.delta_kb_original == 0


def test_a_mismatching_k_or_kb_is_refused_naming_both_values():
    state = small_bundle.state()
    with pytest.raises(InputError, match="trained and its KB refined with k=2; k=4 was asked"):
        Bundle.from_state(state, k=4)
    with pytest.raises(InputError, match=f"checksum {state['kb_checksum'][:12]}; the KB asked"):
        Bundle.from_state(state, checksum="0" * 64)
    tampered = copy.deepcopy(state)
    tampered["kb"]["sign"][0] = -1
    with pytest.raises(InputError, match="model and KB do not belong together"):
        Bundle.from_state(tampered)
    assert Bundle.from_state(state, k=2, checksum=state["kb_checksum"]).k == 2


def test_a_bundle_refuses_a_model_of_another_universe():
    state = small_bundle.state()
    wrong = copy.deepcopy(state)
    wrong["universe"] = {key: values[:-1] for key, values in wrong["universe"].items()}
    with pytest.raises(InputError, match="the model has 7 genes"):
        Bundle.from_state(wrong)


def test_de_table_has_cell_evals_columns():
    table = de_table(["crp", "fnr"], ["a", "b", "c"], np.array([[1, 0, -1], [0, 0, 1]]))
    assert list(table.columns) == [
        "target",
        "feature",
        "log2_fold_change",
        "abs_log2_fold_change",
        "p_value",
        "fdr",
    ]
    assert table["log2_fold_change"].tolist() == [1, 0, -1, 0, 0, 1]
    assert table["fdr"].tolist() == [0, 1, 0, 1, 1, 0]


def test_anndata_holds_predictions_layers_and_provenance(bundle: Bundle):
    prediction = ask(bundle, "crp;fnr+narK")
    adata = to_anndata(bundle, prediction)
    assert adata.shape == (2, 7) and adata.X.dtype == np.int8
    assert list(adata.obs_names) == ["crp", "fnr+narK"]
    assert list(adata.var["gene_name"])[:3] == ["crp", "fnr", "narK"]
    assert {"p_kb", "p_down", "p_none", "p_up", "delta_kb", "paths_pos", "observed"} <= set(
        adata.layers
    )
    assert adata.uns["k"] == 2 and adata.uns["kb_checksum"] == bundle.checksum
    assert np.isnan(adata.layers["observed"][1]).all()


def test_a_bundle_keeps_its_own_k():
    assert Bundle.from_state(small_bundle.state(3)).k == 3


def test_a_bundle_deduces_with_the_abstention_rule_it_was_trained_with(bundle: Bundle):
    state = copy.deepcopy(small_bundle.state())
    assert state["abstention"] == {"balance": 0.0, "decay": 0.05}
    state["abstention"] = {"balance": 0.5, "decay": 0.5}
    ruled = Bundle.from_state(state)
    assert ruled.abstention == Abstention(0.5, 0.5)
    X = np.zeros((1, len(ruled.gene_ids)))
    X[0, 0] = 1
    np.testing.assert_array_equal(
        ruled.deduce(X), deduce(ruled.kb, X, ruled.k, abstention=Abstention(0.5, 0.5))
    )
    del state["abstention"]
    assert not Bundle.from_state(state).abstention.active


def test_a_latent_gene_is_predicted_and_flagged_but_never_observed():
    state = copy.deepcopy(small_bundle.state())
    n = len(state["universe"]["gene_id"])
    state["universe"]["measured"] = [True] * (n - 1) + [False]
    latent = Bundle.from_state(state)
    requests, X = measured_test_requests(latent)
    prediction = predict_requests(latent, requests, X)
    table = prediction_table(latent, prediction)
    flags = table.groupby("gene_measured")["gene_id"].unique()
    assert flags[False].tolist() == [latent.gene_ids[-1]]
    last = table[table["gene_id"].eq(latent.gene_ids[-1])]
    assert last["observed"].isna().all() and last["measured"].all()
    assert table.loc[table["gene_measured"], "observed"].notna().all()
