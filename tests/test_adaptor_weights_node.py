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
    return labels, perturbations, kb_pred, split, kb_table, universe, genes


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("agreement", [1.0, 1.0, 0.5]),
        ("e3", [0.5 + 0.2, 0.5 + 0.2, 0.25]),
        ("constant", [0.5, 0.5, 0.5]),
    ],
)
def test_each_kind_of_prior(kind, expected):
    table, stats = adaptor_weights(*inputs(), {"weights": kind}, 0)
    np.testing.assert_allclose(table["w"], expected)
    assert stats["training.w_mean"] == pytest.approx(np.mean(expected))


def test_an_unknown_kind_is_refused_by_name():
    with pytest.raises(InputError, match=r"unknown adaptor weights 'degree'.*training.adaptor"):
        adaptor_weights(*inputs(), {"weights": "degree"}, 0)
