from functools import partial, update_wrapper

from kedro.pipeline import Pipeline, node, pipeline

from aligned_kedro.pipelines import refinement, training

from . import nodes

BASELINES = {"neural_only_baseline", "linear_baseline"}


def replicate(index: int, rounds: int, graph: str = "one_step") -> Pipeline:
    """Replicate ``index``: remove edges, then the training and refinement pipelines (their
    baselines left out) on the corrupted KB, namespaced ``recovery.replicate_<index>``.
    A KB graph for the GNN follows the corrupted KB; a gene graph is shared by all."""
    namespace = f"recovery.replicate_{index}"
    aligned = training.create_pipeline(graph) + refinement.create_pipeline(rounds=rounds)
    left_out = BASELINES | ({"gene_graph"} if graph == "gene_graph" else set())
    aligned = Pipeline([n for n in aligned.nodes if n.name not in left_out])
    free = aligned.inputs()
    remove = update_wrapper(partial(nodes.remove_edges, replicate=index), nodes.remove_edges)
    removal = pipeline(
        [
            node(
                remove,
                [
                    "knowledge_base_table",
                    "perturbations_table",
                    "conditions_split",
                    "params:recovery",
                ],
                ["corrupted_kb_table", "removed_edges_table"],
                name="remove_edges",
            )
        ],
        namespace=namespace,
        inputs={"knowledge_base_table", "perturbations_table", "conditions_split"},
        parameters={"params:recovery"},
    )
    inputs = {name: name for name in free if not name.startswith("params:")}
    inputs["knowledge_base_table"] = f"{namespace}.corrupted_kb_table"
    rerun = pipeline(
        aligned,
        namespace=namespace,
        inputs=inputs,
        parameters={name for name in free if name.startswith("params:")},
    )
    return removal + rerun


def create_pipeline(
    rounds: int = 2, replicates: int = 3, graph: str = "one_step", **kwargs
) -> Pipeline:
    """Interaction recovery (appendix F.3, Table 8): ``replicates`` corrupted KBs, each
    run through ``rounds`` align -> refine rounds, and the share of removed edges back in
    the last refined KB."""
    check = node(
        update_wrapper(partial(nodes.check_replicates, built=replicates), nodes.check_replicates),
        "params:recovery",
        None,
        name="check_replicates",
    )
    pairs = []
    for i in range(replicates):
        ns = f"recovery.replicate_{i}"
        pairs += [f"{ns}.removed_edges_table", f"{ns}.round_{rounds}.refined_kb_table"]
    report = node(
        nodes.recovery_report,
        ["universe_table", *pairs],
        ["recovery_analysis", "recovery_edges_analysis", "recovery_metrics"],
        name="recovery_report",
    )
    shared = training.graph_pipeline(graph) if graph == "gene_graph" else Pipeline([])
    return sum(
        (replicate(i, rounds, graph) for i in range(replicates)), Pipeline([check, report]) + shared
    )
