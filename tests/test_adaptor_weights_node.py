"""The `adaptor_weights` node: each kind of prior w, computed from the training rows only,
from the catalog's tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aligned_kedro.core.errors import InputError
from aligned_kedro.pipelines._common import round_data, round_settings
from aligned_kedro.pipelines.training.nodes import adaptor_weights

GENES = ["a", "b", "c"]
KB = pd.DataFrame({"regulator": ["a"], "target": ["b"], "sign": [1]})
GENE_TABLE = pd.DataFrame({"gene_id": GENES, "go_count": [0, 0, 0]})
GRAPH = pd.DataFrame({"source": [], "target": [], "weight": []})


def tables(perturbations: pd.DataFrame | None = None) -> dict:
    rows = ["ko_a", "ko_b", "held_out"]
    labels = pd.DataFrame([[-1, -1, 0], [0, -1, 1], [1, 1, 1]], index=rows, columns=GENES)
    kb_pred = pd.DataFrame([[-1, -1, 0], [0, -1, 0], [0, 0, 0]], index=rows, columns=GENES)
    if perturbations is None:
        perturbations = pd.DataFrame(-np.eye(3, dtype=int), index=rows, columns=GENES)
    return {
        "labels": labels,
        "perturbations": perturbations,
        "kb_predictions": kb_pred,
        "unlabelled": perturbations.iloc[:1],
        "split": {"train": ["ko_a", "ko_b"], "test": ["held_out"]},
        "universe": pd.DataFrame({"gene_id": GENES}),
    }


def weights(kind: str, perturbations: pd.DataFrame | None = None, **adaptor: object) -> tuple:
    training = {
        "adaptor": {"weights": kind, **adaptor},
        "model": {"model_type": "mlp", "hidden": 8, "layers": 2, "embedding_dim": 8},
        "optimiser": {"epochs": 5, "device": "cpu"},
    }
    settings = round_settings(
        pd.DataFrame({"gene_id": GENES}),
        training,
        {"variant": "integer", "margin": 0.0},
        {"rounds": 2},
        k=2,
        seed=0,
        gamma=5.0,
    )
    data = round_data(**tables(perturbations))
    return adaptor_weights(data, settings, KB, GENE_TABLE, GRAPH)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("agreement", [1.0, 1.0, 0.5]),
        ("e3", [0.5 + 0.2, 0.5 + 0.2, 0.25]),
        ("constant", [0.5, 0.5, 0.5]),
    ],
)
def test_each_kind_of_prior(kind, expected):
    table, stats, prior = weights(kind)
    assert prior["route"] == {}
    np.testing.assert_array_equal(prior["w"].numpy(), table["w"])
    np.testing.assert_allclose(table["w"], expected)
    assert table["gene_id"].tolist() == GENES and table["kb_degree"].tolist() == [1, 1, 0]
    assert stats["training.w_mean"] == pytest.approx(np.mean(expected))


def test_an_unknown_kind_is_refused_by_name():
    with pytest.raises(InputError, match=r"unknown adaptor weights 'degree'.*training.adaptor"):
        weights("degree")


def test_tables_whose_rows_disagree_are_refused_by_name():
    found = tables()
    found["labels"] = found["labels"].iloc[::-1]
    with pytest.raises(InputError, match="rows differ.*labels_table"):
        round_data(**found)
    found = tables()
    found["split"] = {"train": ["ko_a", "ko_z"], "test": ["held_out"]}
    with pytest.raises(InputError, match="train row of the split.*ko_z"):
        round_data(**found)


def test_balanced_prior_routes_by_out_of_fold_predictions():
    table, stats, _ = weights("balanced", folds=2)
    assert set(table["w"]) <= {0.0, 1.0}
    assert 0.0 <= stats["training.out_of_fold.data_f1"] <= 1.0
    assert stats["training.out_of_fold.folds"] == 2
    assert 0.0 < stats["training.w_balanced_f1_train"] <= 1.0
    _, stats, _ = weights("balanced", folds=3)
    assert stats["training.out_of_fold.folds"] == 2
    assert stats["training.out_of_fold.folds_requested"] == 3
    shared = tables()["perturbations"]
    shared.loc["ko_b", "a"] = -1
    table, stats, _ = weights("balanced", shared, folds=3)  # one group: e3, as the README says
    assert stats["training.prior_fallback_e3"] == 1.0
    assert "training.out_of_fold.folds" not in stats


def test_an_adaptive_adaptor_gets_its_fitted_per_input_prior():
    table, stats, prior = weights("balanced", folds=2, routing="adaptive", route_hidden=4)
    route = prior["route"]
    assert set(route) == {f"net.{i}.{p}" for i in (0, 2) for p in ("weight", "bias")} | {
        "answers_only"
    }
    assert route["net.0.weight"].shape[0] == 4
    assert float(route["answers_only"]) == 0.0
    _, _, scoped = weights("balanced", folds=2, routing="adaptive", route_scope="kb_answers")
    assert float(scoped["route"]["answers_only"]) == 1.0
    assert 0.0 <= stats["training.route_prior.balanced_f1_train"] <= 1.0
    _, _, unfitted = weights("balanced", folds=2, routing="adaptive", route_prior="none")
    assert unfitted["route"] == {}
