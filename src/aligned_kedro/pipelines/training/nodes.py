"""Thin nodes over aligned_kedro.core for the training pipeline: the GNN's graph, the
adaptor's prior and the baselines."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
import torch

from aligned_kedro.core import (
    LinearBaseline,
    RoundData,
    RoundSettings,
    adaptor_prior,
    closure,
    from_state,
    harmonise_gene_graph,
    predict,
    routing_baselines,
    score_stage,
    stage_name,
    to_state,
    train_neural_only,
)
from aligned_kedro.core.learning.models import (
    graph_summary,
    graph_table,
    graph_tensors,
    kb_edge_index,
)
from aligned_kedro.pipelines._common import gene_ids, graph_arrays, kb_from_table, synonym_table

log = logging.getLogger(__name__)


def _graph_metrics(graph: pd.DataFrame, genes: list[str]) -> dict[str, float]:
    edge_index, edge_weight = graph_tensors(graph, genes)
    summary = graph_summary(edge_index, len(genes), edge_weight)
    log.info("GNN graph: %s", summary)
    return {f"training.gnn_graph.{name}": float(v) for name, v in summary.items()}


def kb_graph(
    kb: pd.DataFrame, universe: pd.DataFrame, model: dict[str, Any], k: int
) -> tuple[pd.DataFrame, dict[str, float]]:
    """The GNN's graph from the KB (section 3.3): edges of R±(0) (``one_step``) or of the
    closure R±(k) (``closure``) in both directions, as ``source, target, weight``; empty
    for the MLP. Returns the graph and its size as metrics."""
    genes = gene_ids(universe)
    edge_index = torch.zeros((2, 0), dtype=torch.long)
    if model["model_type"] == "gnn":
        knowledge = kb_from_table(kb, genes)
        if model["graph"] == "closure":
            edge_index = kb_edge_index(*closure(knowledge, k))
        else:
            edge_index = kb_edge_index(knowledge.r_pos, knowledge.r_neg)
    graph = graph_table(edge_index, genes)
    return graph, _graph_metrics(graph, genes)


def gene_graph(
    raw: pd.DataFrame,
    genes: pd.DataFrame,
    synonyms: pd.DataFrame | dict | None,
    universe: pd.DataFrame,
    model: dict[str, Any],
    options: dict[str, Any],
    gene_options: dict[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]:
    """``graph: gene_graph``: the GNN's graph from the unsigned table ``raw_gene_graph``
    (e.g. GEARS go.csv), harmonised onto the universe. The KB stays the signed GRN.
    Returns the graph, a report of what was dropped and the graph's size as metrics."""
    if model["model_type"] != "gnn":
        log.warning(
            "graph: gene_graph is read but unused: model_type %r has no message passing",
            model["model_type"],
        )
    graph, report = harmonise_gene_graph(
        raw,
        genes,
        gene_ids(universe),
        synonym_table(synonyms),
        **options,
        aliases=gene_options["aliases"],
        source="raw_gene_graph",
    )
    return graph, report, _graph_metrics(graph, gene_ids(universe))


def adaptor_weights(
    data: RoundData,
    settings: RoundSettings,
    kb: pd.DataFrame,
    genes: pd.DataFrame,
    graph: pd.DataFrame,
) -> tuple[pd.DataFrame, dict[str, float], dict[str, Any]]:
    """The prior w of Eq. 4 from the training split (`adaptor_prior`): per gene with the
    KB degree and GO count it may use, its metrics, and what the rounds read, ``w`` and
    an adaptive f_a's per-input prior ``route`` (its route head's state; empty for a
    static f_a)."""
    go = genes.set_index("gene_id")["go_count"].reindex(list(data.genes)).fillna(0).to_numpy()
    prior = adaptor_prior(
        data,
        kb_from_table(kb, data.genes),
        settings,
        go_count=go,
        **graph_arrays(graph, data.genes, settings.model),
        logger=log,
    )
    table = pd.DataFrame(
        {"gene_id": list(data.genes), "w": prior.w, "kb_degree": prior.kb_degree, "go_count": go}
    )
    metrics = {f"training.{name}": value for name, value in prior.stats.items()}
    return table, metrics, {"w": torch.as_tensor(prior.w), "route": prior.route or {}}


def neural_only_baseline(
    data: RoundData, settings: RoundSettings, graph: pd.DataFrame
) -> tuple[dict[str, Any], dict[str, float]]:
    """f_y trained by cross-entropy alone: the paper's "GNN only" / "MLP only", over the
    same graph as the aligned model."""
    x_train, y_train, _ = data.part("train")
    trained = train_neural_only(
        x_train,
        y_train,
        settings.model,
        settings.training,
        **graph_arrays(graph, data.genes, settings.model),
        logger=log,
        measured=data.measured,
    )
    outputs = predict(trained, data.part("test")[0])
    return to_state(trained), score_stage(stage_name("neural_only"), data, outputs, settings.gamma)


def static_routing_baseline(
    data: RoundData, settings: RoundSettings, model: dict[str, Any], weights: pd.DataFrame
) -> tuple[dict[str, float], dict[str, float]]:
    """Static routing (w ≥ 0.5 → δ_KB) and the oracle routing (an upper bound that reads
    the test labels) between the neural-only f_y and the original KB (`routing_baselines`),
    as the metrics of ``baseline.static_routing`` and ``diagnostic.oracle_routing``."""
    y_hat = predict(from_state(model), data.part("test")[0])["y_hat"]
    metrics = routing_baselines(data, y_hat, weights["w"].to_numpy(), settings.gamma)
    static = stage_name("static_routing")
    return (
        {name: value for name, value in metrics.items() if name.startswith(f"{static}.")},
        {name: value for name, value in metrics.items() if not name.startswith(f"{static}.")},
    )


def linear_baseline(
    data: RoundData, settings: RoundSettings, linear: dict[str, Any]
) -> dict[str, float]:
    """Additive linear model on PCA perturbation embeddings (Ahlmann-Eltze et al. 2025),
    its threshold chosen on the measured genes."""
    x_train, y_train, _ = data.part("train")
    model = LinearBaseline(**linear).fit(x_train, y_train, measured=data.measured)
    y_pred = model.predict(data.part("test")[0])
    outputs = {"y_bar": y_pred, "a": np.zeros_like(y_pred)}
    return score_stage(stage_name("linear"), data, outputs, settings.gamma)


def kb_only_baseline(data: RoundData, settings: RoundSettings) -> dict[str, float]:
    """δ_KB as the predictor (section 3.1)."""
    kb_pred = data.part("test")[2]
    outputs = {"y_bar": kb_pred, "a": np.ones_like(kb_pred)}
    return score_stage(stage_name("kb_only"), data, outputs, settings.gamma)


def no_change_baseline(data: RoundData, settings: RoundSettings) -> dict[str, float]:
    """Predict "no change" everywhere: the floor every method must clear."""
    y = data.part("test")[1]
    outputs = {"y_bar": np.zeros_like(y), "a": np.zeros_like(y)}
    return score_stage(stage_name("no_change"), data, outputs, settings.gamma)
