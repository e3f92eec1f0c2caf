"""``training.model.graph: gene_graph``: which node makes the GNN's graph, in the default
job, a namespaced dataset and the recovery replicates."""

from __future__ import annotations

import pandas as pd
import pytest

from aligned_kedro.pipeline_registry import build_pipelines
from aligned_kedro.pipelines import recovery, training
from aligned_kedro.pipelines.shape import PipelineShape
from aligned_kedro.pipelines.training import nodes


def by_name(pipe):
    return {n.name: n for n in pipe.nodes}


def gene_graph_params(**data_processing: object) -> dict:
    return {"training": {"model": {"graph": "gene_graph"}}, "data_processing": data_processing}


def datasets(**blocks: dict) -> PipelineShape:
    return PipelineShape.from_parameters({"datasets": list(blocks), **blocks})


def test_by_default_the_graph_comes_from_the_kb_and_no_gene_graph_is_read():
    pipe = training.create_pipeline()
    found = by_name(pipe)
    assert "gene_graph" not in found
    assert "knowledge_base_table" in found["kb_graph"].inputs
    assert "raw_gene_graph" not in pipe.inputs()
    assert "gnn_graph_table" in found["neural_only_baseline"].inputs
    assert (
        "gnn_graph_table"
        in by_name(build_pipelines(PipelineShape())["aligned"])["round_1.align_1"].inputs
    )


@pytest.mark.parametrize("data_input", ["table", "anndata"])
def test_a_dataset_with_a_gene_graph_reads_its_own_table(data_input):
    pipe = build_pipelines(datasets(synth=gene_graph_params(input=data_input)))["synth"]
    found = by_name(pipe)
    assert "synth.kb_graph" not in found
    graph = found["synth.gene_graph"]
    genes = "synth.cell_genes_table" if data_input == "anndata" else "synth.raw_genes"
    assert {"synth.raw_gene_graph", genes, "synth.universe_table"} <= set(graph.inputs)
    assert graph.outputs[0] == "synth.gnn_graph_table"
    for name in ("synth.round_1.align_1", "synth.neural_only_baseline"):
        assert "synth.gnn_graph_table" in found[name].inputs


def test_each_dataset_builds_its_own_graph_node():
    shape = datasets(go=gene_graph_params(input="table"), kb={})
    found = by_name(build_pipelines(shape)["aligned"])
    assert {"kb_graph", "go.gene_graph", "kb.kb_graph"} <= set(found)
    assert not {"gene_graph", "go.kb_graph", "kb.gene_graph"} & set(found)
    assert not [name for name in found if name.startswith(("kb.go.", "go.kb."))]


def test_recovery_replicates_share_one_gene_graph_and_follow_their_kb_otherwise():
    shape = PipelineShape(rounds=2, recovery_replicates=2, graph="gene_graph")
    shared = by_name(recovery.create_pipeline(shape))
    assert [n for n in shared if n.endswith("graph")] == ["gene_graph"]
    for i in range(2):
        for r in (1, 2):
            assert "gnn_graph_table" in shared[f"recovery.replicate_{i}.round_{r}.align_{r}"].inputs
    own = by_name(recovery.create_pipeline(PipelineShape(rounds=1, recovery_replicates=2)))
    for i in range(2):
        ns = f"recovery.replicate_{i}"
        assert f"{ns}.corrupted_kb_table" in own[f"{ns}.kb_graph"].inputs
        assert f"{ns}.gnn_graph_table" in own[f"{ns}.round_1.align_1"].inputs


UNIVERSE = pd.DataFrame({"gene_id": ["a", "b", "c"]})
MODEL = {"model_type": "gnn", "graph": "one_step"}


def test_the_graph_nodes_build_the_gnns_graph():
    kb = pd.DataFrame({"regulator": ["a"], "target": ["b"], "sign": [1]})
    graph, metrics = nodes.kb_graph(kb, UNIVERSE, MODEL, 2)
    assert graph[["source", "target"]].values.tolist() == [["a", "b"], ["b", "a"]]
    assert metrics["training.gnn_graph.edges"] == 2
    assert metrics["training.gnn_graph.genes_with_edges"] == 2
    raw = pd.DataFrame({"source": ["a"], "target": ["c"], "importance": [0.5]})
    genes = pd.DataFrame({"gene_id": ["a", "b", "c"], "gene_name": ["A", "B", "C"]})
    options = {"min_importance": 0.0, "top_k": 20, "unresolved": "drop", "unmeasured": "drop"}
    graph, report, metrics = nodes.gene_graph(
        raw, genes, {}, UNIVERSE, {**MODEL, "graph": "gene_graph"}, options, {"aliases": []}
    )
    assert graph.values.tolist() == [["a", "c", 0.5]]
    assert metrics["training.gnn_graph.weighted"] == 1.0
