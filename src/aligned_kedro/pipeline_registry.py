"""Project pipelines."""

from pathlib import Path

from kedro.config import OmegaConfigLoader
from kedro.framework.project import settings
from kedro.pipeline import Pipeline, pipeline

from aligned_kedro.core.errors import InputError
from aligned_kedro.hooks import dataset_parameters
from aligned_kedro.pipelines import (
    data_processing,
    evaluation,
    knowledge_base,
    recovery,
    refinement,
    refinement_benchmark,
    training,
    validation,
)

DEFAULT_ROUNDS = 2
DEFAULT_RECOVERY_REPLICATES = 3
DEFAULT_GRAPH = "one_step"


def _parameters(project_path: Path | None = None) -> dict:
    conf = Path(project_path or Path.cwd()) / settings.CONF_SOURCE
    if not conf.is_dir():
        return {}
    loader = OmegaConfigLoader(str(conf), base_env="base", default_run_env="local")
    return loader["parameters"]


def configured_rounds(project_path: Path | None = None) -> int:
    """``refinement.rounds`` from the project's parameters (base, then local)."""
    parameters = _parameters(project_path)
    return int(parameters.get("refinement", {}).get("rounds", DEFAULT_ROUNDS))


def configured_recovery_replicates(project_path: Path | None = None) -> int:
    """``recovery.replicates`` from the project's parameters (base, then local)."""
    parameters = _parameters(project_path)
    return int(parameters.get("recovery", {}).get("replicates", DEFAULT_RECOVERY_REPLICATES))


def gnn_graph(parameters: dict) -> str:
    """``training.model.graph`` of a parameter tree: the GNN graph's node to build."""
    return str((parameters.get("training") or {}).get("model", {}).get("graph", DEFAULT_GRAPH))


def configured_datasets(project_path: Path | None = None) -> dict[str, dict]:
    """The ``datasets`` list: one namespaced ``aligned`` per name, with its parameters."""
    return dataset_parameters(_parameters(project_path))


def dataset_pipeline(job: Pipeline, name: str, params: dict) -> Pipeline:
    """``job`` for dataset ``name``: its catalog entries and parameters are ``<name>.*``;
    ``input: anndata`` reads cells from ``<name>.raw_cells``, labelled per condition or,
    with ``cells.labels: per_cell``, per sampled cell (`data_processing.per_cell_pipeline`);
    ``training.model.graph: gene_graph`` reads the GNN's graph from ``<name>.raw_gene_graph``."""
    job = training.with_graph(job, gnn_graph(params))
    data = params.get("data_processing", {})
    if data.get("input", "table") == "anndata":
        mode = data.get("cells", {}).get("labels", "pseudobulk")
        if mode not in data_processing.LABEL_MODES:
            raise InputError(
                f"unknown label mode {mode!r} of dataset {name!r}; expected one of "
                f"{list(data_processing.LABEL_MODES)}",
                source="parameters",
                column=f"{name}.data_processing.cells.labels",
            )
        per_cell = mode == "per_cell"
        if per_cell:
            job = data_processing.per_cell_pipeline(job)
        cells = data_processing.cells_pipeline(per_cell=per_cell)
        job = cells + pipeline(job, inputs=data_processing.CELL_INPUTS)
    return pipeline(job, namespace=name)


def register_pipelines() -> dict[str, Pipeline]:
    """``aligned`` is the main job: data_processing → knowledge_base → validation → training
    (stage A of round 1, baselines) → refinement (R, then A-R rounds) → evaluation; once
    for the default data and once, namespaced, per name in the ``datasets`` parameter
    (``kedro run --pipeline=aligned --namespaces=<name>``). ``validate`` runs up to the
    validation report. Not part of ``aligned``: ``refinement_benchmark`` (section 4.2)
    refines noisy copies of the KB; ``recovery`` (appendix F.3) reruns the rounds on KBs
    with edges removed.

    Pipelines are listed explicitly: Kedro 1.7's ``find_pipelines`` loads only the
    pipelines named on the command line, which would leave ``aligned`` empty.
    """
    rounds = configured_rounds()
    graph = gnn_graph(_parameters())
    pipelines = {
        "data_processing": data_processing.create_pipeline(),
        "knowledge_base": knowledge_base.create_pipeline(),
        "validation": validation.create_pipeline(),
        "training": training.create_pipeline(graph=graph),
        "refinement": refinement.create_pipeline(rounds=rounds),
        "evaluation": evaluation.create_pipeline(rounds=rounds),
    }
    aligned = sum(pipelines.values(), Pipeline([]))
    default = aligned
    validate = aligned.to_outputs("validation_report")
    for name, params in configured_datasets().items():
        rounds_here = int(params.get("refinement", {}).get("rounds", rounds))
        if rounds_here != rounds:
            raise ValueError(
                f"dataset {name!r} sets refinement.rounds = {rounds_here}; every dataset "
                f"runs the project's {rounds} rounds"
            )
        job = dataset_pipeline(default, name, params)
        pipelines[name] = job
        validate += job.to_outputs(f"{name}.validation_report")
        aligned += job
    pipelines["validate"] = validate
    pipelines["aligned"] = aligned
    pipelines["__default__"] = pipelines["aligned"]
    upstream = pipelines["data_processing"] + pipelines["knowledge_base"] + pipelines["validation"]
    pipelines["refinement_benchmark"] = upstream + refinement_benchmark.create_pipeline()
    pipelines["recovery"] = upstream + recovery.create_pipeline(
        rounds=rounds, replicates=configured_recovery_replicates(), graph=graph
    )
    return pipelines
