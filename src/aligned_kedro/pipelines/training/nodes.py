"""Thin nodes over aligned_kedro.core for the training pipeline."""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pandas as pd
import torch

from aligned_kedro.core import closure, compile_kb, consistency_scores, deduce
from aligned_kedro.core.data import harmonise
from aligned_kedro.core.data.splits import group_folds, perturbation_groups
from aligned_kedro.core.errors import InputError
from aligned_kedro.core.evaluation.metrics import macro_f1
from aligned_kedro.core.evaluation.refinement_benchmark import corrupt
from aligned_kedro.core.learning.adaptor import balanced_routing, kb_usage, weight_vector
from aligned_kedro.core.learning.baselines import LinearBaseline
from aligned_kedro.core.learning.models import (
    ModelConfig,
    graph_summary,
    graph_table,
    graph_tensors,
    kb_edge_index,
)
from aligned_kedro.core.learning.training import (
    TrainConfig,
    from_state,
    out_of_fold_predictions,
    predict,
    to_state,
    train,
    train_neural_only,
)
from aligned_kedro.pipelines.data_processing.nodes import synonym_table

log = logging.getLogger(__name__)

WEIGHT_KINDS = ("e3", "agreement", "balanced", "constant", "random")


def split_rows(table: pd.DataFrame, split: dict[str, Any], part: str) -> np.ndarray:
    return table.loc[split[part]].to_numpy()


def adaptor_weights(
    labels_table: pd.DataFrame,
    perturbations: pd.DataFrame,
    kb_predictions: pd.DataFrame,
    split: dict[str, Any],
    kb_table: pd.DataFrame,
    universe: pd.DataFrame,
    genes: pd.DataFrame,
    graph: pd.DataFrame,
    params: dict[str, Any],
    seed: int,
    gamma: float,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """The weight vector w of Eq. 4 (appendix E.3), from the TRAINING split only; for
    ``balanced``, the routing that maximises F1_balance there with f_y out of fold."""
    ids = universe["gene_id"]
    degree = (
        pd.concat([kb_table["regulator"], kb_table["target"]]).value_counts().reindex(ids)
    ).fillna(0)
    go = genes.set_index("gene_id")["go_count"].reindex(ids).fillna(0)
    kind = params["adaptor"]["weights"]
    if kind not in WEIGHT_KINDS:
        raise InputError(
            f"unknown adaptor weights {kind!r}; expected one of {', '.join(WEIGHT_KINDS)}",
            source="parameters",
            column="training.adaptor.weights",
        )
    X = split_rows(perturbations, split, "train")
    Y = split_rows(labels_table, split, "train")
    kb_pred = split_rows(kb_predictions, split, "train")
    stats: dict[str, float] = {}
    if kind == "balanced":
        y_out_of_fold, stats = _out_of_fold(
            X, Y, perturbations.columns, universe, graph, params, seed
        )
        w, stats["training.w_balanced_f1_train"] = balanced_routing(
            Y, y_out_of_fold, kb_pred, gamma
        )
    else:
        w = weight_vector(
            X,
            Y,
            kb_pred,
            degree.to_numpy(),
            go.to_numpy(),
            terms="agreement" if kind == "agreement" else "e3",
        )
    if kind == "constant":
        w = np.full_like(w, 0.5)
    elif kind == "random":
        w = np.random.default_rng(seed).uniform(size=len(w))
    table = pd.DataFrame(
        {"gene_id": ids, "w": w, "kb_degree": degree.to_numpy(), "go_count": go.to_numpy()}
    )
    stats.update(
        {
            "training.w_mean": float(w.mean()),
            "training.w_sd": float(w.std()),
            "training.w_above_half": float((w > 0.5).mean()),
        }
    )
    log.info("adaptor weights (%s): %s", kind, stats)
    return table, stats


def _out_of_fold(
    X: np.ndarray,
    Y: np.ndarray,
    genes: pd.Index,
    universe: pd.DataFrame,
    graph: pd.DataFrame,
    params: dict[str, Any],
    seed: int,
) -> tuple[np.ndarray, dict[str, float]]:
    """f_y's out-of-fold predictions of the training rows: folds of rows that share no
    perturbed gene (``training.adaptor.folds``, fewer with a warning when the split has
    fewer groups), one f_y per fold."""
    requested = int(params["adaptor"]["folds"])
    rows = {str(i): list(genes[np.flatnonzero(X[i])]) for i in range(len(X))}
    n_groups = len(perturbation_groups(rows))
    n_folds = min(requested, n_groups)
    if n_folds < requested:
        log.warning(
            "training.adaptor.folds is %d but the training split has only %d group(s) of "
            "conditions sharing perturbed genes: using %d folds",
            requested,
            n_groups,
            n_folds,
        )
    folds = group_folds(rows, n_folds, seed, source="conditions_split (train)")
    model_config, train_config = _configs(params, len(universe), seed)
    start = time.perf_counter()
    y_out_of_fold = out_of_fold_predictions(
        X,
        Y,
        [np.array(sorted(int(r) for r in fold)) for fold in folds],
        model_config,
        train_config,
        **_graph(model_config, graph, universe),
    )
    stats = {
        "training.out_of_fold.folds": float(n_folds),
        "training.out_of_fold.folds_requested": float(requested),
        "training.out_of_fold.data_f1": macro_f1(Y, y_out_of_fold)["f1"],
        "training.out_of_fold.seconds": time.perf_counter() - start,
    }
    return y_out_of_fold, stats


def _configs(params: dict[str, Any], n_genes: int, seed: int) -> tuple[ModelConfig, TrainConfig]:
    model = ModelConfig(n_genes=n_genes, seed=seed, **params["model"])
    adaptor = {
        k: v for k, v in params["adaptor"].items() if k not in ("weights", "random_kb", "folds")
    }
    return model, TrainConfig(seed=seed, **params["optimiser"], **adaptor)


def _check_graph(params: dict[str, Any], built: str) -> None:
    """The GNN graph's node is chosen when the pipeline is built; refuse a run that asks
    for another graph (a ``--params`` override the pipeline registry never saw)."""
    graph = params.get("graph", "one_step")
    if (graph == "gene_graph") != (built == "gene_graph"):
        raise ValueError(
            f"training.model.graph is {graph!r} but the pipeline was built for {built!r}; "
            "set it in conf/base/parameters_training.yml (or conf/local, or the dataset's "
            "parameters) instead of passing it with --params"
        )


def _graph_metrics(graph: pd.DataFrame, universe: pd.DataFrame) -> dict[str, float]:
    edge_index, edge_weight = graph_tensors(graph, universe["gene_id"].tolist())
    summary = graph_summary(edge_index, len(universe), edge_weight)
    metrics = {f"training.gnn_graph.{name}": float(v) for name, v in summary.items()}
    log.info("GNN graph: %s", summary)
    return metrics


def kb_graph(
    kb_table: pd.DataFrame, universe: pd.DataFrame, params: dict[str, Any], k: int
) -> tuple[pd.DataFrame, dict[str, float]]:
    """The GNN's graph from the KB (section 3.3): edges of R±(0) (``one_step``) or of the
    closure R±(k) (``closure``) in both directions, as ``source, target, weight``; empty
    for the MLP. Returns the graph and its size as metrics."""
    _check_graph(params, "one_step")
    genes = universe["gene_id"].tolist()
    edge_index = torch.zeros((2, 0), dtype=torch.long)
    if params["model_type"] == "gnn":
        kb = compile_kb(kb_table, genes, conflict="both")
        matrices = closure(kb, k) if params["graph"] == "closure" else (kb.r_pos, kb.r_neg)
        edge_index = kb_edge_index(*matrices)
    graph = graph_table(edge_index, genes)
    return graph, _graph_metrics(graph, universe)


def gene_graph(
    raw: pd.DataFrame,
    genes: pd.DataFrame,
    synonyms: pd.DataFrame | dict | None,
    universe: pd.DataFrame,
    model_params: dict[str, Any],
    params: dict[str, Any],
    gene_params: dict[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]:
    """``graph: gene_graph``: the GNN's graph from the unsigned table ``raw_gene_graph``
    (e.g. GEARS go.csv), harmonised onto the universe (`harmonise.harmonise_gene_graph`).
    The KB stays the signed GRN. Returns the graph, a report of what was dropped and the
    graph's size as metrics."""
    _check_graph(model_params, "gene_graph")
    if model_params["model_type"] != "gnn":
        log.warning(
            "graph: gene_graph is read but unused: model_type %r has no message passing",
            model_params["model_type"],
        )
    graph, report = harmonise.harmonise_gene_graph(
        raw,
        genes,
        universe["gene_id"].tolist(),
        synonym_table(synonyms),
        **params,
        aliases=gene_params["aliases"],
        source="raw_gene_graph",
    )
    return graph, report, _graph_metrics(graph, universe)


def _graph(model: ModelConfig, graph: pd.DataFrame, universe: pd.DataFrame) -> dict[str, Any]:
    """``edge_index`` and ``edge_weight`` of the GNN's graph (none for the MLP)."""
    if model.model_type != "gnn":
        return {"edge_index": None, "edge_weight": None}
    edge_index, edge_weight = graph_tensors(
        graph, universe["gene_id"].tolist(), source="gnn_graph_table"
    )
    return {"edge_index": edge_index, "edge_weight": edge_weight}


def score_stage(
    stage: str,
    outputs: dict[str, np.ndarray],
    labels_table: pd.DataFrame,
    kb_predictions: pd.DataFrame,
    split: dict[str, Any],
    gamma: float,
    current_kb: np.ndarray | None = None,
) -> dict[str, float]:
    """Scores on the test split; knowledge consistency against the ORIGINAL KB, and with
    `current_kb` (δ of the stage's own KB on the test rows) `kb_f1_current` and
    `balanced_f1_current` against the KB the stage works with."""
    y = split_rows(labels_table, split, "test")
    scores = consistency_scores(
        y, outputs["y_bar"], split_rows(kb_predictions, split, "test"), gamma
    )
    if current_kb is not None:
        current = consistency_scores(y, outputs["y_bar"], current_kb, gamma)
        scores["kb_f1_current"] = current["kb_f1"]
        scores["balanced_f1_current"] = current["balanced_f1"]
    scores["kb_usage"] = kb_usage(outputs["a"])
    return {f"{stage}.{name}": value for name, value in scores.items()}


def current_deduction(
    kb_table: pd.DataFrame, universe: pd.DataFrame, X: np.ndarray, k: int, params: dict[str, Any]
) -> np.ndarray:
    """δ of the KB a stage works with (the original one in round 1, then the refined one)."""
    kb = compile_kb(kb_table, universe["gene_id"].tolist(), conflict="both")
    return deduce(kb, X, k, params["variant"], params["margin"])


def align(
    labels_table: pd.DataFrame,
    perturbations: pd.DataFrame,
    kb_predictions: pd.DataFrame,
    unlabelled: pd.DataFrame,
    split: dict[str, Any],
    weights: pd.DataFrame,
    kb_table: pd.DataFrame,
    universe: pd.DataFrame,
    graph: pd.DataFrame,
    params: dict[str, Any],
    kb_params: dict[str, Any],
    k: int,
    seed: int,
    gamma: float,
    init_state: dict[str, Any] | None = None,
    *,
    stage: str,
) -> tuple[dict[str, Any], pd.DataFrame, dict[str, Any]]:
    """Stage A (Eq. 5). Round 1 trains f_y and f_a on D_l ∪ X_u (Algorithm 1 line 2);
    later rounds update the previous model on D_l ∪ ⟨X_u, ȳ⟩ with ȳ formed against the
    round's KB (lines 4-8). Knowledge consistency is scored against the ORIGINAL KB.
    ``random_kb`` (ablation, paper table 2) aligns against a KB whose edges are all moved
    to random regulator-target pairs (same regulators, edge count and sign share). Every
    round's f_y passes messages over the same ``graph`` (`kb_graph` or `gene_graph`)."""
    if params["adaptor"]["random_kb"]:
        original = compile_kb(kb_table, universe["gene_id"].tolist(), conflict="both")
        kb_table = corrupt(original, 1.0, seed).edges()
    x_train = split_rows(perturbations, split, "train")
    y_train = split_rows(labels_table, split, "train")
    x_u = unlabelled.to_numpy()
    kb_train = current_deduction(kb_table, universe, x_train, k, kb_params)
    kb_u = current_deduction(kb_table, universe, x_u, k, kb_params)
    model_config, train_config = _configs(params, len(universe), seed)
    gnn_graph = _graph(model_config, graph, universe)
    if init_state is None:
        trained = train(
            x_train,
            y_train,
            kb_train,
            x_u,
            kb_u,
            weights["w"].to_numpy(),
            model_config,
            train_config,
            **gnn_graph,
            logger=log,
        )
    else:
        init = from_state(init_state, **gnn_graph)
        y_bar_u = predict(init, x_u, kb_u)["y_bar"]
        trained = train(
            np.vstack([x_train, x_u]),
            np.vstack([y_train, y_bar_u]),
            np.vstack([kb_train, kb_u]),
            None,
            None,
            weights["w"].to_numpy(),
            None,
            train_config,
            logger=log,
            init=init,
        )
    x_all = perturbations.to_numpy()
    deduced = current_deduction(kb_table, universe, x_all, k, kb_params)
    outputs = predict(trained, x_all, deduced)
    test = perturbations.index.get_indexer(split["test"])
    metrics = score_stage(
        stage,
        {name: v[test] for name, v in outputs.items()},
        labels_table,
        kb_predictions,
        split,
        gamma,
        current_kb=deduced[test],
    )
    metrics.update({f"{stage}.train_{name}": values for name, values in trained.history.items()})
    log.info(
        "%s: %s", stage, {m: round(v, 4) for m, v in metrics.items() if not isinstance(v, list)}
    )
    return to_state(trained), _prediction_table(outputs, perturbations), metrics


def _prediction_table(outputs: dict[str, np.ndarray], perturbations: pd.DataFrame) -> pd.DataFrame:
    """Long table of ŷ, a and ȳ for every condition and gene with a non-trivial entry."""
    frames = []
    for name in ("y_hat", "a", "y_bar"):
        frame = pd.DataFrame(
            outputs[name], index=perturbations.index, columns=perturbations.columns
        )
        frames.append(frame.stack().rename(name))
    table = pd.concat(frames, axis=1).reset_index()
    table.columns = ["condition", "gene_id", "y_hat", "a", "y_bar"]
    return table[(table[["y_hat", "a", "y_bar"]] != 0).any(axis=1)].reset_index(drop=True)


def neural_only_baseline(
    labels_table: pd.DataFrame,
    perturbations: pd.DataFrame,
    kb_predictions: pd.DataFrame,
    split: dict[str, Any],
    universe: pd.DataFrame,
    graph: pd.DataFrame,
    params: dict[str, Any],
    seed: int,
    gamma: float,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """f_y trained by cross-entropy alone: the paper's "GNN only" / "MLP only", over the
    same graph as the aligned model."""
    model_config, train_config = _configs(params, len(universe), seed)
    trained = train_neural_only(
        split_rows(perturbations, split, "train"),
        split_rows(labels_table, split, "train"),
        model_config,
        train_config,
        **_graph(model_config, graph, universe),
        logger=log,
    )
    outputs = predict(trained, split_rows(perturbations, split, "test"))
    metrics = score_stage(
        "baseline.neural_only", outputs, labels_table, kb_predictions, split, gamma
    )
    return to_state(trained), metrics


def linear_baseline(
    labels_table: pd.DataFrame,
    perturbations: pd.DataFrame,
    kb_predictions: pd.DataFrame,
    split: dict[str, Any],
    params: dict[str, Any],
    gamma: float,
) -> dict[str, float]:
    """Additive linear model on PCA perturbation embeddings (Ahlmann-Eltze et al. 2025)."""
    model = LinearBaseline(**params).fit(
        split_rows(perturbations, split, "train"), split_rows(labels_table, split, "train")
    )
    y_pred = model.predict(split_rows(perturbations, split, "test"))
    outputs = {"y_bar": y_pred, "a": np.zeros_like(y_pred)}
    return score_stage("baseline.linear", outputs, labels_table, kb_predictions, split, gamma)
