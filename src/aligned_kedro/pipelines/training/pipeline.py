from functools import partial, update_wrapper

from kedro.pipeline import Pipeline, node, pipeline

from . import nodes

SHARED = [
    "labels_table",
    "perturbations_table",
    "kb_predictions_table",
    "unlabelled_table",
    "conditions_split",
    "adaptor_weights_table",
]
PARAMETERS = ["params:training", "params:knowledge_base", "params:k", "params:seed", "params:gamma"]


GRAPH_NODES = ("kb_graph", "gene_graph")


def graph_pipeline(graph: str = "one_step") -> Pipeline:
    """The node that makes ``gnn_graph_table``, the graph every f_y passes messages over:
    ``kb_graph`` from the KB (``training.model.graph: one_step | closure``) or, for
    ``gene_graph``, ``gene_graph`` from the unsigned table ``raw_gene_graph``."""
    if graph == "gene_graph":
        return pipeline(
            [
                node(
                    nodes.gene_graph,
                    [
                        "raw_gene_graph",
                        "raw_genes",
                        "raw_synonyms",
                        "universe_table",
                        "params:training.model",
                        "params:training.gene_graph",
                        "params:data_processing.genes",
                    ],
                    ["gnn_graph_table", "gene_graph_report", "gnn_graph_metrics"],
                    name="gene_graph",
                )
            ]
        )
    return pipeline(
        [
            node(
                nodes.kb_graph,
                ["knowledge_base_table", "universe_table", "params:training.model", "params:k"],
                ["gnn_graph_table", "gnn_graph_metrics"],
                name="kb_graph",
            )
        ]
    )


def with_graph(job: Pipeline, graph: str) -> Pipeline:
    """``job`` with its GNN graph node replaced by the one for ``graph``."""
    kept = [n for n in job.nodes if n.name not in GRAPH_NODES]
    return Pipeline(kept) + graph_pipeline(graph)


def align_stage(round_number: int) -> Pipeline:
    """Stage "A" of round ``round_number``, namespaced ``round_<r>`` so kedro-viz groups it.

    Round 1 starts from the original KB and a fresh model; round r > 1 updates round
    r-1's model against round r-1's refined KB.
    """
    stage = f"round_{round_number}.align"
    align = update_wrapper(partial(nodes.align, stage=stage), nodes.align)
    first = round_number == 1
    previous = f"round_{round_number - 1}"
    kb = "knowledge_base_table" if first else f"{previous}.refined_kb_table"
    inputs = [*SHARED, kb, "universe_table", "gnn_graph_table", *PARAMETERS]
    if not first:
        inputs.append(f"{previous}.aligned_model")
    return pipeline(
        [
            node(
                align,
                inputs,
                ["aligned_model", "align_predictions_table", "align_metrics"],
                name="align",
            )
        ],
        namespace=f"round_{round_number}",
        inputs={*SHARED, kb, "universe_table", "gnn_graph_table"}
        | (set() if first else {f"{previous}.aligned_model"}),
        parameters=set(PARAMETERS),
    )


def create_pipeline(graph: str = "one_step", **kwargs) -> Pipeline:
    """The GNN's graph (`graph_pipeline`), the adaptor weights, the baselines and stage A
    of round 1."""
    baselines = pipeline(
        [
            node(
                nodes.adaptor_weights,
                [
                    "labels_table",
                    "perturbations_table",
                    "kb_predictions_table",
                    "conditions_split",
                    "knowledge_base_table",
                    "universe_table",
                    "raw_genes",
                    "gnn_graph_table",
                    "params:training",
                    "params:seed",
                    "params:gamma",
                ],
                ["adaptor_weights_table", "adaptor_weights_metrics"],
                name="adaptor_weights",
            ),
            node(
                nodes.neural_only_baseline,
                [
                    "labels_table",
                    "perturbations_table",
                    "kb_predictions_table",
                    "conditions_split",
                    "universe_table",
                    "gnn_graph_table",
                    "params:training",
                    "params:seed",
                    "params:gamma",
                ],
                ["neural_only_model", "neural_only_baseline_metrics"],
                name="neural_only_baseline",
            ),
            node(
                nodes.linear_baseline,
                [
                    "labels_table",
                    "perturbations_table",
                    "kb_predictions_table",
                    "conditions_split",
                    "params:training.linear",
                    "params:gamma",
                ],
                "linear_baseline_metrics",
                name="linear_baseline",
            ),
        ]
    )
    return graph_pipeline(graph) + baselines + align_stage(1)
