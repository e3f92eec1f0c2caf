"""Thin nodes over aligned_kedro.core for the refinement pipeline."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from aligned_kedro.core import compile_kb
from aligned_kedro.core.knowledge.refinement import RefineOptions, refine
from aligned_kedro.core.learning.training import from_state, predict
from aligned_kedro.pipelines.training.nodes import current_deduction, score_stage, split_rows

log = logging.getLogger(__name__)


def check_rounds(params: dict[str, Any], built: int) -> None:
    """The pipeline's rounds are fixed when it is built; refuse a run that asks for others."""
    if int(params["rounds"]) != built:
        raise ValueError(
            f"refinement.rounds is {params['rounds']} but the pipeline was built with {built} "
            "rounds; set refinement.rounds in conf/base/parameters_refinement.yml (or "
            "conf/local) instead of passing it with --params"
        )


def refine_knowledge(
    model_state: dict[str, Any],
    kb_table: pd.DataFrame,
    universe: pd.DataFrame,
    labels_table: pd.DataFrame,
    perturbations: pd.DataFrame,
    kb_predictions: pd.DataFrame,
    unlabelled: pd.DataFrame,
    split: dict[str, Any],
    params: dict[str, Any],
    kb_params: dict[str, Any],
    k: int,
    seed: int,
    gamma: float,
    *,
    stage: str,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Stage R: fit the round's KB to ⟨X_u ∪ X_l, ȳ⟩ (Eq. 6, Algorithm 1 line 9).

    Returns the refined KB (its edges), the refined GRN against the round's input KB
    (every edge with its status: kept, added, removed) and the stage's metrics, with the
    round's model predicting against the refined KB.
    """
    genes = universe["gene_id"].tolist()
    knowledge = compile_kb(kb_table, genes, conflict="both")
    model = from_state(model_state)
    x_fit = np.vstack([unlabelled.to_numpy(), split_rows(perturbations, split, "train")])
    y_bar = predict(model, x_fit, current_deduction(kb_table, universe, x_fit, k, kb_params))
    result = refine(
        knowledge,
        x_fit,
        y_bar["y_bar"],
        RefineOptions.from_params(params),
        k=k,
        seed=seed,
        logger=log,
    )
    refined = result.edges[result.edges["status"].ne("removed")].reset_index(drop=True)
    x_test = split_rows(perturbations, split, "test")
    deduced = current_deduction(refined, universe, x_test, k, kb_params)
    outputs = predict(model, x_test, deduced)
    metrics = score_stage(
        stage, outputs, labels_table, kb_predictions, split, gamma, current_kb=deduced
    )
    metrics.update(
        {
            f"{stage}.{name}": float(v)
            for name, v in result.summary.items()
            if isinstance(v, int | float | np.number)
        }
    )
    metrics.update(
        {
            f"{stage}.iterations": result.iterations,
            f"{stage}.seconds": result.seconds,
            f"{stage}.loss": [float(v) for v in result.loss],
        }
    )
    names = universe.set_index("gene_id")["gene_name"]
    grn = result.edges.assign(
        regulator_name=result.edges["regulator"].map(names),
        target_name=result.edges["target"].map(names),
    )
    log.info("%s: %s", stage, result.summary)
    return refined, grn, metrics
