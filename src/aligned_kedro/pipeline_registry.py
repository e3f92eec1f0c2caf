"""Project pipelines."""

from pathlib import Path

from kedro.config import OmegaConfigLoader
from kedro.framework.project import settings
from kedro.pipeline import Pipeline

from aligned_kedro.pipelines import (
    data_processing,
    evaluation,
    knowledge_base,
    refinement,
    refinement_benchmark,
    training,
)

DEFAULT_ROUNDS = 2


def configured_rounds(project_path: Path | None = None) -> int:
    """``refinement.rounds`` from the project's parameters (base, then local)."""
    conf = Path(project_path or Path.cwd()) / settings.CONF_SOURCE
    if not conf.is_dir():
        return DEFAULT_ROUNDS
    loader = OmegaConfigLoader(str(conf), base_env="base", default_run_env="local")
    return int(loader["parameters"].get("refinement", {}).get("rounds", DEFAULT_ROUNDS))


def register_pipelines() -> dict[str, Pipeline]:
    """``aligned`` is the main job: data_processing → knowledge_base → training (stage A of
    round 1, baselines) → refinement (R, then A-R rounds) → evaluation.
    ``refinement_benchmark`` (section 4.2) builds the KB and refines noisy copies of it.

    Pipelines are listed explicitly: Kedro 1.7's ``find_pipelines`` loads only the
    pipelines named on the command line, which would leave ``aligned`` empty.
    """
    rounds = configured_rounds()
    pipelines = {
        "data_processing": data_processing.create_pipeline(),
        "knowledge_base": knowledge_base.create_pipeline(),
        "training": training.create_pipeline(),
        "refinement": refinement.create_pipeline(rounds=rounds),
        "evaluation": evaluation.create_pipeline(rounds=rounds),
    }
    pipelines["aligned"] = sum(pipelines.values(), Pipeline([]))
    pipelines["__default__"] = pipelines["aligned"]
    pipelines["refinement_benchmark"] = (
        pipelines["data_processing"]
        + pipelines["knowledge_base"]
        + refinement_benchmark.create_pipeline()
    )
    return pipelines
