"""An unsigned gene graph (GEARS go.csv) as the GNN's graph: harmonisation onto the
universe, weighted message passing, training and save/load with the graph."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from aligned_kedro.core.data.harmonise import harmonise_gene_graph
from aligned_kedro.core.errors import InputError
from aligned_kedro.core.learning.inference import predict
from aligned_kedro.core.learning.models import ModelConfig, build_model, graph_table, graph_tensors
from aligned_kedro.core.learning.trained import TrainConfig, from_state, to_state
from aligned_kedro.core.learning.training import train

GENES = pd.DataFrame(
    {
        "gene_id": ["ENSG1", "ENSG2", "ENSG3", "ENSG4", "ENSG5"],
        "gene_name": ["FEV", "CBL", "KLF1", "SET", "TP53"],
        "ensembl": ["ens1", "ens2", "ens3", "ens4", "ens5"],
    }
)
SYNONYMS = pd.DataFrame({"name": ["CBL-B"], "genes": ["CBL"]})
UNIVERSE = ["ENSG1", "ENSG2", "ENSG3", "ENSG4"]  # TP53 is not measured
# GEARS go.csv: source, target, importance (Jaccard similarity of GO annotations)
GO = pd.DataFrame(
    [
        ("fev", "CBL", 0.5),  # case
        ("CBL-B", "FEV", 0.4),  # synonym
        ("KLF1", "CBL", 0.9),
        ("MYC", "FEV", 0.7),  # not a gene of the gene table
        ("FEV", "ens1.3", 1.0),  # self-loop through an alias with an Ensembl version
        ("FEV", "CBL", 0.6),  # duplicate of row 0: the higher importance is kept
        ("TP53", "FEV", 0.3),  # not measured
        ("ENSG2", "KLF1", 0.2),
        ("SET", "CBL", 0.1),  # below min_importance
        ("SET", "FEV", 0.35),  # beyond FEV's top 1
    ],
    columns=["source", "target", "importance"],
)


def harmonised(**kw: object) -> tuple[pd.DataFrame, pd.DataFrame]:
    options = {"min_importance": 0.15, "top_k": 1, "aliases": ["ensembl"], "source": "go.csv"}
    return harmonise_gene_graph(GO, GENES, UNIVERSE, SYNONYMS, **{**options, **kw})


def test_go_csv_resolves_filters_and_keeps_the_top_k_in_edges_per_target():
    graph, report = harmonised()
    assert graph.to_dict("list") == {
        "source": ["ENSG2", "ENSG3", "ENSG2"],
        "target": ["ENSG1", "ENSG2", "ENSG3"],
        "weight": [0.4, 0.9, 0.2],
    }
    counts = dict(zip(report["reason"], report["rows"], strict=True))
    assert counts["rows in the gene graph"] == 10
    assert counts["source not a gene of the gene table (1 genes)"] == 1
    assert counts["source not measured (outside the gene universe) (1 genes)"] == 1
    assert counts["self-loop"] == 1
    assert counts["duplicate edges (highest importance kept)"] == 1
    assert counts["importance below min_importance 0.15"] == 1
    assert counts["beyond the top 1 in-edges of a target"] == 2
    assert counts["gene graph edges"] == 3


def test_without_filters_every_resolved_edge_is_kept_once():
    graph, _ = harmonised(min_importance=0.0, top_k=None)
    assert len(graph) == 6
    assert not graph.duplicated(["source", "target"]).any()
    fev_cbl = graph[(graph["source"] == "ENSG1") & (graph["target"] == "ENSG2")]
    assert fev_cbl["weight"].tolist() == [0.6]


def test_a_plain_source_target_table_is_unweighted_and_not_cut():
    graph, report = harmonise_gene_graph(
        GO.drop(columns="importance"), GENES, UNIVERSE, SYNONYMS, top_k=1, aliases=["ensembl"]
    )
    assert len(graph) == 6 and set(graph["weight"]) == {1.0}
    assert not report["reason"].str.contains("top").any()


@pytest.mark.parametrize(
    ("options", "raw", "message"),
    [
        ({"unresolved": "error"}, GO, "column 'source', row 3, gene 'MYC'"),
        ({"unmeasured": "error"}, GO, "column 'source', row 6, gene 'ENSG5'"),
        ({}, GO.assign(importance=GO["importance"].where(GO.index != 2, -1.0)), "row 2"),
        (
            {},
            GO.assign(importance=GO["importance"].astype(object).where(GO.index != 4, "x")),
            "'x'",
        ),
        ({}, GO.drop(columns="target"), "column 'target'"),
        ({"top_k": 0}, GO, "top_k"),
    ],
)
def test_bad_gene_graphs_are_refused_naming_file_column_row_and_gene(options, raw, message):
    with pytest.raises(InputError, match="go.csv|parameters") as error:
        harmonise_gene_graph(raw, GENES, UNIVERSE, SYNONYMS, source="go.csv", **options)
    assert message in str(error.value)


def test_graph_tensors_index_the_universe_and_drop_unit_weights():
    table = pd.DataFrame({"source": ["b", "c"], "target": ["a", "a"], "weight": [0.5, 1.0]})
    edge_index, edge_weight = graph_tensors(table, ["a", "b", "c"])
    assert edge_index.tolist() == [[1, 2], [0, 0]]
    assert edge_weight.tolist() == [0.5, 1.0]
    assert graph_tensors(table.assign(weight=1.0), ["a", "b", "c"])[1] is None
    assert graph_table(edge_index, ["a", "b", "c"], edge_weight).equals(table)
    with pytest.raises(InputError, match="gene 'c'"):
        graph_tensors(table, ["a", "b"])


N = 6
CONFIG = ModelConfig("gnn", N, hidden=8, layers=2, embedding_dim=8, graph="gene_graph", seed=1)
CHAIN = torch.tensor([[0, 1, 2, 3, 4], [1, 2, 3, 4, 5]])
STAR = torch.tensor([[0, 0, 0, 0, 0], [1, 2, 3, 4, 5]])


def embeddings(edge_index: torch.Tensor, edge_weight: torch.Tensor | None = None) -> torch.Tensor:
    with torch.no_grad():
        return build_model(CONFIG, edge_index, edge_weight).gene_embeddings()


def test_the_graph_and_its_weights_change_message_passing():
    chain = embeddings(CHAIN)
    assert not torch.allclose(chain, embeddings(STAR))
    assert torch.equal(chain, embeddings(CHAIN, torch.ones(5)))
    weighted = embeddings(CHAIN, torch.tensor([1.0, 1.0, 1.0, 1.0, 0.1]))
    assert torch.equal(weighted[:4], chain[:4])  # only gene 5's in-edge changed
    assert not torch.allclose(weighted[5], chain[5])
    with pytest.raises(InputError, match="edge_weight"):
        build_model(CONFIG, CHAIN, torch.ones(4))


def tiny_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Knocking out gene g (0-2) lowers g + 3."""
    X = -np.eye(N, dtype=np.int8)[[0, 1, 2, 0, 1, 2]]
    Y = np.zeros((6, N), dtype=np.int8)
    for i, g in enumerate([0, 1, 2, 0, 1, 2]):
        Y[i, g + 3] = -1
    return X, Y


def fit(edge_index: torch.Tensor, edge_weight: torch.Tensor | None, epochs: int = 40):
    X, Y = tiny_data()
    return train(
        X,
        Y,
        None,
        None,
        None,
        None,
        CONFIG,
        TrainConfig(epochs=epochs, device="cpu", lr=0.05),
        edge_index=edge_index,
        edge_weight=edge_weight,
        adaptor=False,
    )


def test_the_gnn_trains_over_a_weighted_gene_graph_and_keeps_it_when_saved():
    weight = torch.tensor([0.9, 0.2, 0.5, 0.7, 0.3])
    trained = fit(CHAIN, weight)
    losses = trained.history["loss"]
    assert losses[-1] < 0.5 * losses[0]
    X, Y = tiny_data()
    assert np.array_equal(predict(trained, X)["y_hat"], Y)
    state = to_state(trained)
    assert state["graph"] == {
        "kind": "gene_graph",
        "genes": N,
        "edges": 5,
        "genes_with_edges": 6,
        "weighted": True,
    }
    restored = from_state(state)
    assert torch.equal(restored.edge_weight, trained.edge_weight)
    logits = trained.model(torch.as_tensor(X, dtype=torch.float32))[0]
    assert torch.equal(restored.model(torch.as_tensor(X, dtype=torch.float32))[0], logits)
    unweighted = from_state(state, edge_index=CHAIN)
    assert unweighted.edge_weight is None
    assert not torch.equal(unweighted.model(torch.as_tensor(X, dtype=torch.float32))[0], logits)
    assert fit(STAR, None, epochs=3).history["loss"] != fit(CHAIN, weight, epochs=3).history["loss"]
