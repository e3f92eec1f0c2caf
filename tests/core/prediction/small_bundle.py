"""A small trained bundle, made once per process: the appendix B.2 GRN plus genes outside
the KB, a GNN trained for a few epochs on knockouts labelled by δ_KB with some changes, and
a refined KB that drops one edge and adds another. (Not a conftest.py: tests import the
top-level conftest by name.)"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd

from aligned_kedro.core import compile_kb, deduce, train
from aligned_kedro.core.learning import ModelConfig, TrainConfig, to_state
from aligned_kedro.core.learning.models import kb_edge_index
from aligned_kedro.core.prediction import Bundle, bundle_state

IDS = [f"b{i:04d}" for i in range(1, 9)]
NAMES = ["crp", "fnr", "narK", "arcA", "soxS", "gadE", "dps", "ompF"]
B2_EDGES = [
    ("b0001", "b0003", 1),
    ("b0001", "b0005", 1),
    ("b0002", "b0005", 1),
    ("b0003", "b0004", 1),
    ("b0001", "b0002", -1),
    ("b0004", "b0001", -1),
    ("b0004", "b0005", -1),
]
K = 2


def edges(rows: list[tuple[str, str, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["regulator", "target", "sign"])


def make_state(k: int = K) -> dict:
    original = edges(B2_EDGES)
    refined = edges([e for e in B2_EDGES if e[:2] != ("b0004", "b0005")] + [("b0002", "b0006", -1)])
    genes = pd.DataFrame({"gene_id": IDS, "gene_name": NAMES, "go_count": 0})
    synonyms = pd.DataFrame({"name": ["CAP", "anaerobic pair"], "genes": ["crp", "fnr;arcA"]})
    universe = genes.loc[:6, ["gene_id", "gene_name"]].reset_index(drop=True)
    ids = universe["gene_id"].tolist()
    kb = compile_kb(original, ids)
    conditions = ["c_crp", "c_fnr", "c_narK", "c_crp_fnr", "c_soxS", "c_fnr_b"]
    x = np.zeros((len(conditions), len(ids)), dtype=np.int8)
    for row, cols in enumerate([[0], [1], [2], [0, 1], [4], [1]]):
        x[row, cols] = -1
    y = deduce(kb, x, k)
    y[2, 6] = 1
    y[5, 6] = -1
    model_config = ModelConfig(
        model_type="gnn", n_genes=len(ids), hidden=8, embedding_dim=8, layers=2
    )
    trained = train(
        x,
        y,
        y,
        None,
        None,
        np.full(len(ids), 0.5),
        model_config,
        TrainConfig(epochs=5, log_every=5),
        edge_index=kb_edge_index(kb.r_pos, kb.r_neg),
    )
    labels = pd.DataFrame(y, index=pd.Index(conditions, name="condition"), columns=ids)
    perturbations = pd.DataFrame(x, index=labels.index, columns=ids)
    split = {"train": ["c_crp", "c_fnr", "c_soxS", "c_fnr_b"], "test": ["c_narK", "c_crp_fnr"]}
    return bundle_state(
        to_state(trained),
        refined,
        original,
        universe,
        genes,
        synonyms,
        labels,
        perturbations,
        split,
        k=k,
        variant="integer",
        margin=0.0,
    )


@cache
def state(k: int = K) -> dict:
    """The bundle's state, made once per k."""
    return make_state(k)


@cache
def bundle() -> Bundle:
    return Bundle.from_state(state())
