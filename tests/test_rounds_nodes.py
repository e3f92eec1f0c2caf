"""A notebook's two rounds through ``aligned_kedro.core`` alone equal what the pipeline's
nodes make of the same data as catalog tables, model states and edge tables."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
from rounds_problem import (
    GENES,
    KB_EDGES,
    KNOWLEDGE_BASE,
    REFINEMENT,
    ROWS,
    TRAINING,
    K,
    non_timing,
    problem,
    round_settings,
)

from aligned_kedro.core import adaptor_prior, align_round, refine_round
from aligned_kedro.pipelines import _common
from aligned_kedro.pipelines.rounds import nodes as rounds
from aligned_kedro.pipelines.training import nodes as training

UNIVERSE = pd.DataFrame({"gene_id": GENES, "gene_name": [g.upper() for g in GENES]})
NO_GRAPH = pd.DataFrame({"source": [], "target": [], "weight": []})


def catalog_tables() -> dict:
    """The problem's arrays as the catalog holds them."""
    data, _ = problem()
    frame = {"index": pd.Index(ROWS, name="condition"), "columns": GENES}
    return {
        "labels": pd.DataFrame(data.Y, **frame),
        "perturbations": pd.DataFrame(data.X, **frame),
        "kb_predictions": pd.DataFrame(data.kb_pred, **frame),
        "unlabelled": pd.DataFrame(data.X_u, columns=GENES),
        "split": {"train": ROWS[:4], "test": ROWS[4:]},
        "universe": UNIVERSE,
    }


def through_nodes() -> list:
    data = _common.round_data(**catalog_tables())
    settings = _common.round_settings(
        UNIVERSE, TRAINING, KNOWLEDGE_BASE, REFINEMENT, k=K, seed=0, gamma=5.0
    )
    genes = UNIVERSE.assign(go_count=0)
    _, _, prior = training.adaptor_weights(data, settings, KB_EDGES, genes, NO_GRAPH)
    assert prior["route"] == {}
    kb, previous, found = KB_EDGES, None, []
    for r in (1, 2):
        model, predictions, align_metrics = rounds.align(
            data, settings, kb, NO_GRAPH, prior, previous, round_number=r
        )
        refined, grn, refine_metrics = rounds.refine(
            data, settings, kb, model, UNIVERSE, prior, round_number=r
        )
        found.append((predictions, align_metrics, refined, grn, refine_metrics))
        kb, previous = refined, model
    return found


def test_two_rounds_in_core_equal_the_pipeline_nodes():
    data, kb = problem()
    settings = round_settings()
    w = adaptor_prior(data, kb, settings).w
    previous = None
    nodes = through_nodes()
    for r, (predictions, align_metrics, refined, grn, refine_metrics) in enumerate(nodes, 1):
        aligned = align_round(r, data, kb, w, settings, previous=previous)
        names = UNIVERSE.set_index("gene_id")["gene_name"].reindex(GENES).tolist()
        stage = refine_round(r, data, kb, aligned.model, settings, gene_names=names, w=w)
        assert non_timing(aligned.metrics) == non_timing(align_metrics)
        assert non_timing(stage.metrics) == non_timing(refine_metrics)
        y_bar = predictions.pivot(index="condition", columns="gene_id", values="y_bar")
        y_bar = y_bar.reindex(index=ROWS, columns=GENES).fillna(0).to_numpy()
        np.testing.assert_array_equal(y_bar, aligned.outputs["y_bar"])
        edges = stage.refined.edges
        pd.testing.assert_frame_equal(grn.drop(columns=["regulator_name", "target_name"]), edges)
        assert (grn["regulator_name"] == grn["regulator"].str.upper()).all()
        kept = edges[edges["status"] != "removed"].reset_index(drop=True)
        pd.testing.assert_frame_equal(refined, kept)
        kb, previous = stage.kb, aligned.model


def test_the_prediction_table_lists_the_non_trivial_entries_as_the_stacked_frames_did():
    rng = np.random.default_rng(0)
    shape = (7, 5)
    outputs = {
        "y_hat": rng.choice([-1, 0, 1], size=shape, p=[0.1, 0.8, 0.1]).astype(np.int8),
        "a": (rng.random(shape) < 0.2).astype(np.float32),
        "y_bar": rng.choice([-1, 0, 1], size=shape, p=[0.1, 0.8, 0.1]).astype(np.int8),
    }
    data = SimpleNamespace(rows=[f"c{i}@cell{i}" for i in range(7)], genes=list("ABCDE"))
    stacked = pd.concat(
        [
            pd.DataFrame(outputs[name], index=data.rows, columns=data.genes).stack().rename(name)
            for name in rounds.OUTPUTS
        ],
        axis=1,
    ).reset_index()
    stacked.columns = ["condition", "gene_id", *rounds.OUTPUTS]
    expected = stacked[(stacked[list(rounds.OUTPUTS)] != 0).any(axis=1)].reset_index(drop=True)
    expected["condition"] = pd.Categorical(expected["condition"], categories=data.rows)
    expected["gene_id"] = pd.Categorical(expected["gene_id"], categories=data.genes)
    table = rounds.prediction_table(outputs, data)
    assert 0 < len(table) < 35
    pd.testing.assert_frame_equal(table, expected)
