"""The `adaptor_weights` node: each kind of prior w, computed from the training rows only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aligned_kedro.core.errors import InputError
from aligned_kedro.pipelines.training.nodes import adaptor_weights

GENES = ["a", "b", "c"]


def inputs() -> tuple:
    rows = ["ko_a", "ko_b", "held_out"]
    labels = pd.DataFrame([[-1, -1, 0], [0, -1, 1], [1, 1, 1]], index=rows, columns=GENES)
    kb_pred = pd.DataFrame([[-1, -1, 0], [0, -1, 0], [0, 0, 0]], index=rows, columns=GENES)
    perturbations = pd.DataFrame([[-1, 0, 0], [0, -1, 0], [0, 0, -1]], index=rows, columns=GENES)
    split = {"train": ["ko_a", "ko_b"], "test": ["held_out"]}
    kb_table = pd.DataFrame({"regulator": ["a"], "target": ["b"], "sign": [1]})
    universe = pd.DataFrame({"gene_id": GENES})
    genes = pd.DataFrame({"gene_id": GENES, "go_count": [0, 0, 0]})
    graph = pd.DataFrame({"source": [], "target": [], "weight": []})
    return labels, perturbations, kb_pred, split, kb_table, universe, genes, graph


def params(kind: str) -> dict:
    return {"adaptor": {"weights": kind}}


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("agreement", [1.0, 1.0, 0.5]),
        ("e3", [0.5 + 0.2, 0.5 + 0.2, 0.25]),
        ("constant", [0.5, 0.5, 0.5]),
    ],
)
def test_each_kind_of_prior(kind, expected):
    table, stats = adaptor_weights(*inputs(), params(kind), 0, 5.0)
    np.testing.assert_allclose(table["w"], expected)
    assert stats["training.w_mean"] == pytest.approx(np.mean(expected))


def test_an_unknown_kind_is_refused_by_name():
    with pytest.raises(InputError, match=r"unknown adaptor weights 'degree'.*training.adaptor"):
        adaptor_weights(*inputs(), params("degree"), 0, 5.0)


def test_balanced_prior_routes_by_out_of_fold_predictions():
    params = {
        "adaptor": {"weights": "balanced", "folds": 2},
        "model": {"model_type": "mlp", "hidden": 8, "layers": 2, "embedding_dim": 8},
        "optimiser": {"epochs": 5, "device": "cpu"},
    }
    table, stats = adaptor_weights(*inputs(), params, 0, 5.0)
    assert set(table["w"]) <= {0.0, 1.0}
    assert 0.0 <= stats["training.out_of_fold.data_f1"] <= 1.0
    assert stats["training.out_of_fold.folds"] == 2
    assert 0.0 < stats["training.w_balanced_f1_train"] <= 1.0
    params["adaptor"]["folds"] = 3
    _, stats = adaptor_weights(*inputs(), params, 0, 5.0)
    assert stats["training.out_of_fold.folds"] == 2
    assert stats["training.out_of_fold.folds_requested"] == 3
    labels, perturbations, *rest = inputs()
    perturbations.loc["ko_b", "a"] = -1
    with pytest.raises(InputError, match="cannot make 1 folds from 1 group"):
        adaptor_weights(labels, perturbations, *rest, params, 0, 5.0)
