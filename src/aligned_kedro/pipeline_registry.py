"""Project pipelines."""

from pathlib import Path

from kedro.config import OmegaConfigLoader
from kedro.framework.project import settings
from kedro.pipeline import Pipeline

from aligned_kedro.pipelines import (
    data_processing,
    evaluation,
    knowledge_base,
    recovery,
    refinement,
    refinement_benchmark,
    training,
)

DEFAULT_ROUNDS = 2
DEFAULT_RECOVERY_REPLICATES = 3


def _configured(group: str, key: str, default: int, project_path: Path | None) -> int:
    conf = Path(project_path or Path.cwd()) / settings.CONF_SOURCE
    if not conf.is_dir():
        return default
    loader = OmegaConfigLoader(str(conf), base_env="base", default_run_env="local")
    return int(loader["parameters"].get(group, {}).get(key, default))


def configured_rounds(project_path: Path | None = None) -> int:
    """``refinement.rounds`` from the project's parameters (base, then local)."""
    return _configured("refinement", "rounds", DEFAULT_ROUNDS, project_path)


def configured_recovery_replicates(project_path: Path | None = None) -> int:
    """``recovery.replicates`` from the project's parameters (base, then local)."""
    return _configured("recovery", "replicates", DEFAULT_RECOVERY_REPLICATES, project_path)


def register_pipelines() -> dict[str, Pipeline]:
    """``aligned`` is the main job: data_processing → knowledge_base → training (stage A of
    round 1, baselines) → refinement (R, then A-R rounds) → evaluation. Not part of
    ``aligned``: ``refinement_benchmark`` (section 4.2) refines noisy copies of the KB;
    ``recovery`` (appendix F.3) reruns the rounds on KBs with edges removed.

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
    upstream = pipelines["data_processing"] + pipelines["knowledge_base"]
    pipelines["refinement_benchmark"] = upstream + refinement_benchmark.create_pipeline()
    pipelines["recovery"] = upstream + recovery.create_pipeline(
        rounds=rounds, replicates=configured_recovery_replicates()
    )
    return pipelines
