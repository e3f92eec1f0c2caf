from functools import partial, update_wrapper

from kedro.pipeline import Pipeline, node, pipeline

from aligned_kedro.pipelines.training import align_stage

from . import nodes

SHARED = [
    "universe_table",
    "labels_table",
    "perturbations_table",
    "kb_predictions_table",
    "unlabelled_table",
    "conditions_split",
]
PARAMETERS = [
    "params:refinement",
    "params:knowledge_base",
    "params:k",
    "params:seed",
    "params:gamma",
]


def refine_stage(round_number: int) -> Pipeline:
    """Stage "R" of round ``round_number``: refines the KB the round's align stage used."""
    stage = f"round_{round_number}.refine"
    refine = update_wrapper(partial(nodes.refine_knowledge, stage=stage), nodes.refine_knowledge)
    kb = (
        "knowledge_base_table"
        if round_number == 1
        else f"round_{round_number - 1}.refined_kb_table"
    )
    return pipeline(
        [
            node(
                refine,
                ["aligned_model", kb, *SHARED, *PARAMETERS],
                ["refined_kb_table", "refined_grn_report", "refine_metrics"],
                name="refine",
            )
        ],
        namespace=f"round_{round_number}",
        inputs={kb, *SHARED},
        parameters=set(PARAMETERS),
    )


def create_pipeline(rounds: int = 2, **kwargs) -> Pipeline:
    """Round 1's refine stage (its align stage is the training pipeline's), then the
    align -> refine rounds 2..``rounds``."""
    check = node(
        update_wrapper(partial(nodes.check_rounds, built=rounds), nodes.check_rounds),
        "params:refinement",
        None,
        name="check_rounds",
    )
    stages = [refine_stage(1)]
    for r in range(2, rounds + 1):
        stages += [align_stage(r), refine_stage(r)]
    return pipeline([check]) + sum(stages, Pipeline([]))
