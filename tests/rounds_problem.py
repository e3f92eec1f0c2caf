"""A small synthetic problem for Algorithm 1: ten genes, a GRN, a KB missing one of its
edges, six labelled knockouts (four to train on) and three unlabelled inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from aligned_kedro.core import RoundData, RoundSettings, compile_kb, deduce

GENES = [f"g{i}" for i in range(10)]
EDGES = pd.DataFrame(
    [
        ("g0", "g3", 1),
        ("g0", "g4", -1),
        ("g1", "g5", 1),
        ("g1", "g6", 1),
        ("g2", "g7", -1),
        ("g3", "g8", 1),
    ],
    columns=["regulator", "target", "sign"],
)
KB_EDGES = EDGES.iloc[[0, 1, 2, 3, 5]].reset_index(drop=True)
KNOCKOUTS = [["g0"], ["g1"], ["g2"], ["g3"], ["g0", "g1"], ["g1", "g2"]]
ROWS = ["_".join(s) for s in KNOCKOUTS]
K = 2
TRAINING = {
    "model": {"model_type": "mlp", "hidden": 8, "layers": 2, "embedding_dim": 8},
    "optimiser": {"epochs": 3, "device": "cpu", "log_every": 1},
    "adaptor": {"weights": "agreement", "folds": 2, "random_kb": False},
}
KNOWLEDGE_BASE = {"variant": "integer", "margin": 0.0}
REFINEMENT = {"rounds": 2, "max_iter": 3}


def perturb(sets: list[list[str]], value: int = -1) -> np.ndarray:
    X = np.zeros((len(sets), len(GENES)), dtype=np.int8)
    for row, genes in enumerate(sets):
        X[row, [GENES.index(g) for g in genes]] = value
    return X


def problem() -> tuple[RoundData, object]:
    """Labels deduced from the GRN, one flipped; the KB lacks g2's edge."""
    kb = compile_kb(KB_EDGES, GENES)
    X = perturb(KNOCKOUTS)
    Y = deduce(compile_kb(EDGES, GENES), X, K)
    Y[0, 9] = 1
    data = RoundData(
        X=X,
        Y=Y,
        kb_pred=deduce(kb, X, K),
        X_u=np.vstack([perturb([["g0"], ["g3"]], 1), perturb([["g0", "g3"]])]),
        train=np.array([0, 1, 2, 3]),
        test=np.array([4, 5]),
        genes=GENES,
        rows=ROWS,
    )
    return data, kb


def round_settings(**adaptor: object) -> RoundSettings:
    return RoundSettings.from_params(
        training={**TRAINING, "adaptor": {**TRAINING["adaptor"], **adaptor}},
        knowledge_base=KNOWLEDGE_BASE,
        refinement=REFINEMENT,
        k=K,
        seed=0,
        gamma=5.0,
        n_genes=len(GENES),
    )


def non_timing(metrics: dict) -> dict:
    """Metrics without the ones that time something."""
    return {k: v for k, v in metrics.items() if not k.endswith(("seconds", "epoch_s"))}
