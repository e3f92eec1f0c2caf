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
    inputs = [*SHARED, kb, "universe_table", *PARAMETERS]
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
        inputs={*SHARED, kb, "universe_table"}
        | (set() if first else {f"{previous}.aligned_model"}),
        parameters=set(PARAMETERS),
    )


def create_pipeline(**kwargs) -> Pipeline:
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
                    "params:training.adaptor",
                    "params:seed",
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
                    "knowledge_base_table",
                    "universe_table",
                    "params:training",
                    "params:k",
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
    return baselines + align_stage(1)
