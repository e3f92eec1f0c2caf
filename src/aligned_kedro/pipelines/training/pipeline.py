from kedro.pipeline import Pipeline, node, pipeline

from aligned_kedro.pipelines import _common
from aligned_kedro.pipelines.shape import DEFAULT_SHAPE, PipelineShape

from . import nodes

DATA = {"data": "round_data", "settings": "round_settings"}


def inputs_pipeline() -> Pipeline:
    """``round_data`` (the labelled rows, split, X_u and δ as arrays) and ``round_settings``
    (the run's parameters, checked): what every baseline and every round reads."""
    return pipeline(
        [
            node(
                _common.round_data,
                {
                    "labels": "labels_table",
                    "perturbations": "perturbations_table",
                    "kb_predictions": "kb_predictions_table",
                    "unlabelled": "unlabelled_table",
                    "split": "conditions_split",
                    "universe": "universe_table",
                },
                "round_data",
                name="round_data",
            ),
            node(
                _common.round_settings,
                {
                    "universe": "universe_table",
                    "training": "params:training",
                    "knowledge_base": "params:knowledge_base",
                    "refinement": "params:refinement",
                    "k": "params:k",
                    "seed": "params:seed",
                    "gamma": "params:gamma",
                },
                "round_settings",
                name="round_settings",
            ),
        ]
    )


def graph_pipeline(graph: str = DEFAULT_SHAPE.graph) -> Pipeline:
    """The node that makes ``gnn_graph_table``, the graph every f_y passes messages over:
    ``kb_graph`` from the KB (``training.model.graph: one_step | closure``) or, for
    ``gene_graph``, ``gene_graph`` from the unsigned table ``raw_gene_graph``."""
    if graph == "gene_graph":
        made = node(
            nodes.gene_graph,
            {
                "raw": "raw_gene_graph",
                "genes": "raw_genes",
                "synonyms": "raw_synonyms",
                "universe": "universe_table",
                "model": "params:training.model",
                "options": "params:training.gene_graph",
                "gene_options": "params:data_processing.genes",
            },
            ["gnn_graph_table", "gene_graph_report", "gnn_graph_metrics"],
            name="gene_graph",
        )
    else:
        made = node(
            nodes.kb_graph,
            {
                "kb": "knowledge_base_table",
                "universe": "universe_table",
                "model": "params:training.model",
                "k": "params:k",
            },
            ["gnn_graph_table", "gnn_graph_metrics"],
            name="kb_graph",
        )
    return pipeline([made])


def prior_pipeline() -> Pipeline:
    """The adaptor's prior w (Eq. 4), from the training split."""
    return pipeline(
        [
            node(
                nodes.adaptor_weights,
                {
                    **DATA,
                    "kb": "knowledge_base_table",
                    "genes": "raw_genes",
                    "graph": "gnn_graph_table",
                },
                ["adaptor_weights_table", "adaptor_weights_metrics", "adaptor_prior_model"],
                name="adaptor_weights",
            )
        ]
    )


def baselines_pipeline() -> Pipeline:
    """The stages every ALIGNED stage is compared with: no change, δ_KB alone, the linear
    model, f_y alone, f_y and δ_KB routed by the prior alone (static routing), and the
    oracle routing between them (a diagnostic upper bound)."""
    return pipeline(
        [
            node(
                nodes.no_change_baseline,
                DATA,
                "no_change_baseline_metrics",
                name="no_change_baseline",
            ),
            node(
                nodes.kb_only_baseline,
                DATA,
                "kb_only_baseline_metrics",
                name="kb_only_baseline",
            ),
            node(
                nodes.linear_baseline,
                {**DATA, "linear": "params:training.linear"},
                "linear_baseline_metrics",
                name="linear_baseline",
            ),
            node(
                nodes.neural_only_baseline,
                {**DATA, "graph": "gnn_graph_table"},
                ["neural_only_model", "neural_only_baseline_metrics"],
                name="neural_only_baseline",
            ),
            node(
                nodes.static_routing_baseline,
                {**DATA, "model": "neural_only_model", "weights": "adaptor_weights_table"},
                ["static_routing_baseline_metrics", "diagnostic.oracle_routing_metrics"],
                name="static_routing_baseline",
            ),
        ]
    )


def create_pipeline(shape: PipelineShape = DEFAULT_SHAPE, **kwargs) -> Pipeline:
    """The round inputs, the GNN's graph (`graph_pipeline`), the adaptor's prior and the
    baselines."""
    return inputs_pipeline() + graph_pipeline(shape.graph) + prior_pipeline() + baselines_pipeline()
