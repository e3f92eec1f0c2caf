"""The pipelines' structure: A-R rounds, one shape read once, one guard, thin nodes."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from kedro.pipeline import Pipeline

from aligned_kedro import pipeline_registry
from aligned_kedro.core.errors import InputError
from aligned_kedro.pipelines import evaluation, rounds, training
from aligned_kedro.pipelines.shape import PipelineShape, check_shape

PIPELINES = Path(pipeline_registry.__file__).parent / "pipelines"


def inputs_of(pipe: Pipeline, name: str) -> set[str]:
    (found,) = [n for n in pipe.nodes if n.name == name]
    return set(found.inputs)


@pytest.mark.parametrize("count", [1, 2, 3])
def test_each_round_aligns_then_refines_the_previous_rounds_kb(count):
    shape = PipelineShape(rounds=count)
    pipe = training.create_pipeline(shape) + rounds.create_pipeline(shape)
    assert "knowledge_base_table" in inputs_of(pipe, "round_1.align_1")
    assert "knowledge_base_table" in inputs_of(pipe, "round_1.refine_1")
    assert "round_1.aligned_model" in inputs_of(pipe, "round_1.refine_1")
    assert not any(name.endswith("aligned_model") for name in inputs_of(pipe, "round_1.align_1"))
    for r in range(2, count + 1):
        align = inputs_of(pipe, f"round_{r}.align_{r}")
        assert {f"round_{r - 1}.refined_kb_table", f"round_{r - 1}.aligned_model"} <= align
        assert f"round_{r - 1}.refined_kb_table" in inputs_of(pipe, f"round_{r}.refine_{r}")
        assert f"round_{r}.aligned_model" in inputs_of(pipe, f"round_{r}.refine_{r}")
    summary = evaluation.create_pipeline(shape)
    assert f"round_{count}.refine_metrics" in inputs_of(summary, "run_summary")
    assert "no_change_baseline_metrics" in inputs_of(summary, "run_summary")


def test_the_round_nodes_read_the_rounds_inputs_by_keyword_and_no_parameters():
    pipe = rounds.create_pipeline(PipelineShape(rounds=2))
    for node in pipe.nodes:
        assert isinstance(node._inputs, dict), node.name
        assert len(node.inputs) <= 6, node.name
        assert not [name for name in node.inputs if name.startswith("params:")], node.name


@pytest.mark.parametrize(
    ("sections", "shape", "message"),
    [
        ({"refinement": {"rounds": 3}}, PipelineShape(), "parameters_refinement.yml"),
        (
            {"training": {"model": {"graph": "gene_graph"}}},
            PipelineShape(),
            "training.model.graph is 'gene_graph' but the pipeline was built for 'one_step'",
        ),
        (
            {"data_processing": {"input": "anndata"}},
            PipelineShape(),
            "data_processing.input is 'anndata' but the pipeline was built for 'table'",
        ),
        (
            {"data_processing": {"input": "anndata", "cells": {"labels": "per_gene"}}},
            PipelineShape(data_input="anndata"),
            "unknown label mode 'per_gene'",
        ),
        (
            {"data_processing": {"input": "anndata", "cells": {"labels": "per_cell"}}},
            PipelineShape(data_input="anndata"),
            "labels is 'per_cell' but the pipeline was built for 'pseudobulk'",
        ),
        ({"recovery": {"replicates": 2}}, PipelineShape(), "parameters_recovery.yml"),
    ],
)
def test_one_guard_refuses_a_run_asking_for_another_shape(sections, shape, message):
    params = {"refinement": {}, "training": {}, "data_processing": {}, **sections}
    with pytest.raises(InputError, match=message):
        check_shape(**params, shape=shape)


def test_the_guard_passes_the_shape_it_was_built_for_and_a_kb_graph_variant():
    params = {
        "refinement": {"rounds": 2},
        "training": {"model": {"graph": "closure"}},
        "data_processing": {"input": "table", "cells": {"labels": "per_gene"}},
        "recovery": {"replicates": 3},
    }
    check_shape(**params, shape=PipelineShape())


def test_the_guard_runs_first_in_every_job():
    pipelines = pipeline_registry.build_pipelines(shape_of(per_cell_dataset()))
    for name, first in (("aligned", "check_shape"), ("recovery", "check_shape")):
        assert pipelines[name].nodes[0].name == first
    assert pipelines["norman"].nodes[0].name == "norman.check_shape"
    assert "norman.check_shape" in {n.name for n in pipelines["validate"].nodes}


def per_cell_dataset() -> dict:
    cells = {"labels": "per_cell"}
    return {
        "datasets": ["norman"],
        "norman": {"data_processing": {"input": "anndata", "cells": cells}},
        "refinement": {"rounds": 2},
    }


def shape_of(parameters: dict) -> PipelineShape:
    return PipelineShape.from_parameters(parameters)


def test_the_shape_of_the_project_and_of_each_dataset():
    shape = shape_of({**per_cell_dataset(), "recovery": {"replicates": 5}})
    assert (shape.rounds, shape.recovery_replicates, shape.graph) == (2, 5, "one_step")
    ((name, own),) = shape.datasets
    assert name == "norman" and own.per_cell and not shape.per_cell
    with pytest.raises(ValueError, match="every dataset runs the project's 2 rounds"):
        shape_of({**per_cell_dataset(), "norman": {"refinement": {"rounds": 3}}})
    with pytest.raises(InputError, match="unknown GNN graph 'go'.*training.model.graph"):
        shape_of({"training": {"model": {"graph": "go"}}})


def test_the_registry_reads_the_configuration_once(monkeypatch):
    calls = []

    def parameters(project_path=None):
        calls.append(project_path)
        return per_cell_dataset()

    monkeypatch.setattr(pipeline_registry, "project_parameters", parameters)
    pipelines = pipeline_registry.register_pipelines()
    assert len(calls) == 1
    assert {"aligned", "rounds", "validate", "recovery", "refinement_benchmark"} <= set(pipelines)
    assert "refinement" not in pipelines


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_no_pipeline_imports_another_pipelines_nodes():
    for path in PIPELINES.glob("*/*.py"):
        own = path.parent.name
        for module in imported_modules(path):
            parts = module.split(".")
            if parts[:2] == ["aligned_kedro", "pipelines"] and parts[-1] == "nodes":
                assert parts[2] == own, f"{path.relative_to(PIPELINES)} imports {module}"


def test_kedro_viz_reads_the_round_of_every_stage_node():
    """kedro-viz shows a node's name without its namespace: each stage's name says its
    round (``align_2`` inside ``round_2``), not only ``align``."""
    pipe = rounds.create_pipeline(PipelineShape(rounds=2))
    shown = {node.name: node.name.rsplit(".", 1)[-1] for node in pipe.nodes}
    assert shown == {
        "round_1.align_1": "align_1",
        "round_1.refine_1": "refine_1",
        "round_2.align_2": "align_2",
        "round_2.refine_2": "refine_2",
    }
