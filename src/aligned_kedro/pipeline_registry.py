"""Project pipelines, built from the project's configuration read once."""

from pathlib import Path
from typing import Any

from kedro.config import OmegaConfigLoader
from kedro.framework.project import settings
from kedro.pipeline import Pipeline, pipeline

from aligned_kedro.pipelines import (
    data_processing,
    evaluation,
    knowledge_base,
    predict,
    recovery,
    refinement_benchmark,
    rounds,
    training,
    validation,
)
from aligned_kedro.pipelines.shape import PipelineShape, guard_pipeline

STAGES = {
    "data_processing": data_processing,
    "knowledge_base": knowledge_base,
    "validation": validation,
    "training": training,
    "rounds": rounds,
    "evaluation": evaluation,
}


def project_parameters(project_path: Path | None = None) -> dict[str, Any]:
    """The project's parameters (base, then local), as the run will read them."""
    conf = Path(project_path or Path.cwd()) / settings.CONF_SOURCE
    if not conf.is_dir():
        return {}
    loader = OmegaConfigLoader(str(conf), base_env="base", default_run_env="local")
    return loader["parameters"]


def aligned_job(shape: PipelineShape) -> dict[str, Pipeline]:
    """The pipelines of one ``aligned`` job of `shape`, each with the ``check_shape``
    guard: data_processing → knowledge_base → validation → training (round inputs, GNN
    graph, prior, baselines) → rounds (A-R per round) → evaluation."""
    guard = guard_pipeline(shape)
    parts = {name: guard + stage.create_pipeline(shape) for name, stage in STAGES.items()}
    parts["predictor"] = guard + predict.bundle_pipeline(shape)
    parts["aligned"] = data_processing.with_cells(sum(parts.values(), Pipeline([])), shape)
    return parts


def build_pipelines(shape: PipelineShape) -> dict[str, Pipeline]:
    """Every pipeline of a project of `shape`.

    ``aligned`` is the main job, once for the default data and once, namespaced, per name
    in the ``datasets`` parameter (``kedro run --pipeline=aligned --namespaces=<name>``);
    ``validate`` runs up to the validation report and its verdict (the split training
    would read). Not part of ``aligned``:
    ``refinement_benchmark`` (section 4.2) refines noisy copies of the KB; ``recovery``
    (appendix F.3) reruns the rounds on KBs with edges removed.
    """
    pipelines = aligned_job(shape)
    aligned = pipelines["aligned"]
    checked = ("validation_report", "conditions_split")
    validate = aligned.to_outputs(*checked) + aligned.only_nodes("check_shape")
    for name, own in shape.datasets:
        job = pipeline(aligned_job(own)["aligned"], namespace=name)
        pipelines[name] = job
        validate += job.to_outputs(*(f"{name}.{output}" for output in checked))
        validate += job.only_nodes(f"{name}.check_shape")
        aligned += job
    pipelines["validate"] = validate
    pipelines["aligned"] = aligned
    pipelines["__default__"] = aligned
    pipelines["predict"] = predict.create_pipeline()
    upstream = (
        data_processing.create_pipeline(shape)
        + knowledge_base.create_pipeline(shape)
        + validation.create_pipeline(shape)
    )
    benchmark = upstream + refinement_benchmark.create_pipeline(shape)
    pipelines["refinement_benchmark"] = data_processing.with_cells(benchmark, shape)
    rerun = guard_pipeline(shape, recovery=True) + upstream + recovery.create_pipeline(shape)
    pipelines["recovery"] = data_processing.with_cells(rerun, shape)
    return pipelines


def register_pipelines() -> dict[str, Pipeline]:
    """The project's pipelines, of the shape its parameters give (`PipelineShape`).

    Pipelines are listed explicitly: Kedro 1.7's ``find_pipelines`` loads only the
    pipelines named on the command line, which would leave ``aligned`` empty.
    """
    return build_pipelines(PipelineShape.from_parameters(project_parameters()))
