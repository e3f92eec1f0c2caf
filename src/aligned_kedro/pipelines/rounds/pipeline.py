"""Algorithm 1 as a modular pipeline: round r = align(r) + refine(r), namespaced
``round_<r>``. Round 1 aligns a fresh model against the original KB and refines that KB;
round r > 1 continues round r-1's model against round r-1's refined KB and refines it
again. ``refinement.rounds: 2`` gives the paper's A-R-A-R."""

from collections.abc import Callable
from functools import partial, update_wrapper
from typing import Any

from kedro.pipeline import Pipeline, node, pipeline

from aligned_kedro.core.rounds import round_namespace
from aligned_kedro.pipelines.shape import DEFAULT_SHAPE, PipelineShape

from . import nodes


def _stage(function: Callable[..., Any], round_number: int) -> Callable[..., Any]:
    return update_wrapper(partial(function, round_number=round_number), function)


def round_pipeline(round_number: int) -> Pipeline:
    """Round ``round_number``: stage A trains (round 1) or continues (later rounds) the
    model against the round's KB; stage R refines that KB with the model's ȳ. The nodes
    are ``round_<r>.align_<r>`` and ``round_<r>.refine_<r>``, so kedro-viz, which shows a
    node's name without its namespace, reads which round's stage each one is."""
    previous = round_namespace(round_number - 1)
    kb = "knowledge_base_table" if round_number == 1 else f"{previous}.refined_kb_table"
    shared = {"data": "round_data", "settings": "round_settings", "kb": kb}
    prior = {"prior": "adaptor_prior_model"}
    align = {**shared, **prior, "graph": "gnn_graph_table"}
    if round_number > 1:
        align["previous"] = f"{previous}.aligned_model"
    refine = {**shared, **prior, "model": "aligned_model", "universe": "universe_table"}
    return pipeline(
        [
            node(
                _stage(nodes.align, round_number),
                align,
                ["aligned_model", "align_predictions_table", "align_metrics"],
                name=f"align_{round_number}",
            ),
            node(
                _stage(nodes.refine, round_number),
                refine,
                ["refined_kb_table", "refined_grn_report", "refine_metrics"],
                name=f"refine_{round_number}",
            ),
        ],
        namespace=round_namespace(round_number),
        inputs={*align.values(), "universe_table"},
    )


def create_pipeline(shape: PipelineShape = DEFAULT_SHAPE, **kwargs) -> Pipeline:
    """Rounds 1..``shape.rounds``: A-R-A-R... over the KB each refine stage leaves."""
    return sum((round_pipeline(r) for r in range(1, shape.rounds + 1)), Pipeline([]))
