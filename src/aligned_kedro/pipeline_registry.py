"""Project pipelines."""

from kedro.pipeline import Pipeline

from aligned_kedro.pipelines import data_processing, evaluation, knowledge_base

STAGES = {
    "data_processing": data_processing,
    "knowledge_base": knowledge_base,
    "evaluation": evaluation,
}


def register_pipelines() -> dict[str, Pipeline]:
    """``aligned`` is the main job: data_processing, knowledge_base, then evaluation.

    Pipelines are listed explicitly: Kedro 1.7's ``find_pipelines`` loads only the
    pipelines named on the command line, which would leave ``aligned`` empty.
    """
    pipelines = {name: module.create_pipeline() for name, module in STAGES.items()}
    pipelines["aligned"] = sum(pipelines.values(), Pipeline([]))
    pipelines["__default__"] = pipelines["aligned"]
    return pipelines
