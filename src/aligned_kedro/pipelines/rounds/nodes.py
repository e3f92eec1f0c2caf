"""Thin nodes over aligned_kedro.core.rounds: the align and refine stages of a round."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from aligned_kedro.core import (
    RoundData,
    RoundSettings,
    align_round,
    from_state,
    refine_round,
    to_state,
)
from aligned_kedro.pipelines._common import gene_names, graph_arrays, kb_from_table

log = logging.getLogger(__name__)

OUTPUTS = ("y_hat", "a", "y_bar")


def prediction_table(outputs: dict[str, np.ndarray], data: RoundData) -> pd.DataFrame:
    """Long table of ŷ, a and ȳ for every labelled row and gene with a non-trivial entry,
    row by row; only those entries are gathered (per-cell rows x genes x 3 never become
    one long frame), and condition and gene_id are categorical (tens of millions of rows
    at per-cell scale)."""
    nonzero = np.zeros(np.shape(outputs[OUTPUTS[0]]), dtype=bool)
    for name in OUTPUTS:
        nonzero |= np.asarray(outputs[name]) != 0
    row, column = np.nonzero(nonzero)
    return pd.DataFrame(
        {
            "condition": pd.Categorical.from_codes(row, list(data.rows)),
            "gene_id": pd.Categorical.from_codes(column, list(data.genes)),
            **{name: np.asarray(outputs[name])[row, column] for name in OUTPUTS},
        }
    )


def align(
    data: RoundData,
    settings: RoundSettings,
    kb: pd.DataFrame,
    graph: pd.DataFrame,
    prior: dict[str, Any],
    previous: dict[str, Any] | None = None,
    *,
    round_number: int,
) -> tuple[dict[str, Any], pd.DataFrame, dict[str, Any]]:
    """Stage A of the round (`align_round`): the model, its predictions and metrics. The
    adaptor's `prior` holds w and, for an adaptive f_a, the per-input prior ``route``."""
    edges = graph_arrays(graph, data.genes, settings.model)
    result = align_round(
        round_number,
        data,
        kb_from_table(kb, data.genes),
        prior["w"].numpy(),
        settings,
        previous=None if previous is None else from_state(previous, **edges),
        **edges,
        route=prior["route"] or None,
        logger=log,
    )
    return to_state(result.model), prediction_table(result.outputs, data), result.metrics


def refine(
    data: RoundData,
    settings: RoundSettings,
    kb: pd.DataFrame,
    model: dict[str, Any],
    universe: pd.DataFrame,
    prior: dict[str, Any],
    *,
    round_number: int,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Stage R of the round (`refine_round`): the refined KB's edges, the refined GRN
    against the round's KB (every edge with its status and support, genes named) and the
    stage's metrics."""
    names = gene_names(universe)
    result = refine_round(
        round_number,
        data,
        kb_from_table(kb, data.genes),
        from_state(model),
        settings,
        gene_names=names.reindex(list(data.genes)).fillna("").tolist(),
        w=prior["w"].numpy(),
        logger=log,
    )
    edges = result.refined.edges
    grn = edges.assign(
        regulator_name=edges["regulator"].map(names), target_name=edges["target"].map(names)
    )
    refined = edges[edges["status"].ne("removed")].reset_index(drop=True)
    return refined, grn, result.metrics
