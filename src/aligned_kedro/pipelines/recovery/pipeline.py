from functools import partial, update_wrapper

from kedro.pipeline import Pipeline, node, pipeline

from aligned_kedro.core.rounds import round_namespace
from aligned_kedro.pipelines import rounds, training
from aligned_kedro.pipelines.shape import DEFAULT_SHAPE, PipelineShape

from . import nodes


def replicate(index: int, shape: PipelineShape) -> Pipeline:
    """Replicate ``index``, namespaced ``recovery.replicate_<index>``: remove edges, then
    the adaptor's prior and the rounds on the corrupted KB. A KB graph for the GNN follows
    the corrupted KB; a gene graph is shared by all replicates."""
    namespace = f"recovery.replicate_{index}"
    aligned = training.prior_pipeline() + rounds.create_pipeline(shape)
    if shape.graph != "gene_graph":
        aligned += training.graph_pipeline(shape.graph)
    remove = update_wrapper(partial(nodes.remove_edges, replicate=index), nodes.remove_edges)
    removal = pipeline(
        [
            node(
                remove,
                {
                    "kb_table": "knowledge_base_table",
                    "perturbations": "perturbations_table",
                    "labels": "labels_table",
                    "split": "conditions_split",
                    "universe": "universe_table",
                    "settings": "round_settings",
                    "params": "params:recovery",
                },
                ["corrupted_kb_table", "removed_edges_table"],
                name="remove_edges",
            )
        ],
        namespace=namespace,
        inputs={
            "knowledge_base_table",
            "perturbations_table",
            "labels_table",
            "conditions_split",
            "universe_table",
            "round_settings",
        },
        parameters={"params:recovery"},
    )
    free = aligned.inputs()
    inputs = {name: name for name in free if not name.startswith("params:")}
    inputs["knowledge_base_table"] = f"{namespace}.corrupted_kb_table"
    rerun = pipeline(
        aligned,
        namespace=namespace,
        inputs=inputs,
        parameters={name for name in free if name.startswith("params:")},
    )
    return removal + rerun


def create_pipeline(shape: PipelineShape = DEFAULT_SHAPE, **kwargs) -> Pipeline:
    """Interaction recovery (appendix F.3, Table 8): ``shape.recovery_replicates``
    corrupted KBs, each run through ``shape.rounds`` align -> refine rounds, and the share
    of removed edges back in the last refined KB."""
    last = f"{round_namespace(shape.rounds)}.refined_kb_table"
    pairs = []
    for i in range(shape.recovery_replicates):
        ns = f"recovery.replicate_{i}"
        pairs += [f"{ns}.removed_edges_table", f"{ns}.{last}"]
    report = node(
        nodes.recovery_report,
        ["universe_table", "knowledge_base_table", *pairs],
        ["recovery_analysis", "recovery_edges_analysis", "recovery_metrics"],
        name="recovery_report",
    )
    shared = training.inputs_pipeline()
    if shape.graph == "gene_graph":
        shared += training.graph_pipeline(shape.graph)
    replicates = (replicate(i, shape) for i in range(shape.recovery_replicates))
    return sum(replicates, Pipeline([report]) + shared)
