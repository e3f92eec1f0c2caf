"""The shape of the pipelines: what they are built from, read once from the project's
parameters, and the one guard node that refuses a run asking for another shape."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import partial, update_wrapper
from typing import Any

from kedro.pipeline import Pipeline, node, pipeline

from aligned_kedro.core.errors import InputError
from aligned_kedro.core.learning.models import GRAPHS
from aligned_kedro.hooks import dataset_parameters

DATA_INPUTS = ("table", "anndata")
LABEL_MODES = ("pseudobulk", "per_cell")


@dataclass(frozen=True)
class PipelineShape:
    """What building a pipeline decides, so a run cannot change it with ``--params``.

    ``rounds``: Algorithm 1's T (``refinement.rounds``); ``graph``: the GNN's graph
    (``training.model.graph``; ``gene_graph`` reads ``raw_gene_graph``); ``data_input`` and
    ``label_mode``: ``data_processing.input`` and, for ``anndata``,
    ``data_processing.cells.labels``; ``recovery_replicates``: ``recovery.replicates``;
    ``datasets``: each name in ``datasets`` with its own shape.
    """

    rounds: int = 2
    graph: str = "one_step"
    data_input: str = "table"
    label_mode: str = "pseudobulk"
    recovery_replicates: int = 3
    datasets: tuple[tuple[str, PipelineShape], ...] = ()

    @property
    def per_cell(self) -> bool:
        """One labelled row per sampled cell (``input: anndata``, ``labels: per_cell``)."""
        return self.data_input == "anndata" and self.label_mode == "per_cell"

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any]) -> PipelineShape:
        """The shape of the project's parameters (base, then local) and of every dataset in
        ``datasets`` (its block over the project's values). Every dataset runs the
        project's number of rounds."""
        shape = _job_shape(parameters, None)
        datasets = []
        for name, params in dataset_parameters(dict(parameters)).items():
            own = _job_shape(params, name)
            if own.rounds != shape.rounds:
                raise ValueError(
                    f"dataset {name!r} sets refinement.rounds = {own.rounds}; every dataset "
                    f"runs the project's {shape.rounds} rounds"
                )
            datasets.append((name, own))
        return replace(shape, datasets=tuple(datasets))


DEFAULT_SHAPE = PipelineShape()


def _section(parameters: Mapping[str, Any], *keys: str) -> Mapping[str, Any]:
    for key in keys:
        parameters = parameters.get(key) or {}
    return parameters


def _job_shape(parameters: Mapping[str, Any], name: str | None) -> PipelineShape:
    prefix = f"{name}." if name else ""
    data = _section(parameters, "data_processing")
    shape = PipelineShape(
        rounds=int(_section(parameters, "refinement").get("rounds", DEFAULT_SHAPE.rounds)),
        graph=str(_section(parameters, "training", "model").get("graph", DEFAULT_SHAPE.graph)),
        data_input=str(data.get("input", DEFAULT_SHAPE.data_input)),
        label_mode=str(_section(data, "cells").get("labels", DEFAULT_SHAPE.label_mode)),
        recovery_replicates=int(
            _section(parameters, "recovery").get("replicates", DEFAULT_SHAPE.recovery_replicates)
        ),
    )
    of = f" of dataset {name!r}" if name else ""
    for value, allowed, what, column in (
        (shape.graph, GRAPHS, "GNN graph", "training.model.graph"),
        (shape.data_input, DATA_INPUTS, "data input", "data_processing.input"),
        (shape.label_mode, LABEL_MODES, "label mode", "data_processing.cells.labels"),
    ):
        if value not in allowed and (what != "label mode" or shape.data_input == "anndata"):
            raise InputError(
                f"unknown {what} {value!r}{of}; expected one of {list(allowed)}",
                source="parameters",
                column=prefix + column,
            )
    return shape


def _mismatch(
    shape: PipelineShape,
    refinement: Mapping[str, Any],
    training: Mapping[str, Any],
    data_processing: Mapping[str, Any],
    recovery: Mapping[str, Any] | None,
) -> str | None:
    """Why a run's parameters do not fit `shape`, or None."""
    rounds = refinement.get("rounds", shape.rounds)
    if int(rounds) != shape.rounds:
        return (
            f"refinement.rounds is {rounds} but the pipeline was built with {shape.rounds} "
            "rounds; set refinement.rounds in conf/base/parameters_refinement.yml (or "
            "conf/local) instead of passing it with --params"
        )
    graph = _section(training, "model").get("graph", shape.graph)
    if (graph == "gene_graph") != (shape.graph == "gene_graph"):
        return (
            f"training.model.graph is {graph!r} but the pipeline was built for "
            f"{shape.graph!r}; set it in conf/base/parameters_training.yml (or conf/local, or "
            "the dataset's parameters) instead of passing it with --params"
        )
    data_input = data_processing.get("input", shape.data_input)
    if data_input != shape.data_input:
        return (
            f"data_processing.input is {data_input!r} but the pipeline was built for "
            f"{shape.data_input!r}: set it in the dataset's parameters file, not with --params"
        )
    mode = _section(data_processing, "cells").get("labels", shape.label_mode)
    if shape.data_input == "anndata" and mode not in LABEL_MODES:
        return f"unknown label mode {mode!r}; expected one of {list(LABEL_MODES)}"
    if shape.data_input == "anndata" and mode != shape.label_mode:
        return (
            f"labels is {mode!r} but the pipeline was built for {shape.label_mode!r}: set "
            "data_processing.cells.labels in the dataset's parameters file, not with --params"
        )
    replicates = (recovery or {}).get("replicates", shape.recovery_replicates)
    if recovery is not None and int(replicates) != shape.recovery_replicates:
        return (
            f"recovery.replicates is {replicates} but the pipeline was built with "
            f"{shape.recovery_replicates} replicates; set it in "
            "conf/base/parameters_recovery.yml (or conf/local) instead of passing it with "
            "--params"
        )
    return None


def check_shape(
    refinement: Mapping[str, Any],
    training: Mapping[str, Any],
    data_processing: Mapping[str, Any],
    recovery: Mapping[str, Any] | None = None,
    *,
    shape: PipelineShape,
) -> None:
    """Refuse a run whose parameters ask for another shape than the pipeline's: a
    ``--params`` override of a value the pipeline registry read to build it."""
    reason = _mismatch(shape, refinement, training, data_processing, recovery)
    if reason is not None:
        raise InputError(reason, source="parameters")


def guard_pipeline(shape: PipelineShape, *, recovery: bool = False) -> Pipeline:
    """The ``check_shape`` node for a job of `shape` (with ``recovery``, also its
    replicates). Its name sorts before every other node a run can start with, so a
    refused run fails before it computes anything."""
    inputs = {
        "refinement": "params:refinement",
        "training": "params:training",
        "data_processing": "params:data_processing",
    }
    if recovery:
        inputs["recovery"] = "params:recovery"
    check = update_wrapper(partial(check_shape, shape=shape), check_shape)
    return pipeline([node(check, inputs, None, name="check_shape")])
