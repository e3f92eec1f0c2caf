"""The edge harmonisation node passes the complex policy and the alias table (`raw_aliases`)
to the core, and the knowledge-base parameters reach every deduction."""

from pathlib import Path

import numpy as np
import pandas as pd

from aligned_kedro.core import Abstention
from aligned_kedro.pipeline_registry import project_parameters
from aligned_kedro.pipelines._common import deduction_options
from aligned_kedro.pipelines.data_processing import nodes

ROOT = Path(__file__).resolve().parents[1]
GENES = pd.DataFrame(
    {
        "gene_id": [f"E{i}" for i in range(9)],
        "gene_name": ["JUN", "FOS", "JUNB", "JUND", "FOSB", "FOSL1", "FOSL2", "ARNTL", "TNF"],
    }
)
COLLECTRI = pd.DataFrame({"source": ["AP1", "BMAL1"], "target": ["TNF", "TNF"], "weight": [1, -1]})
HGNC = pd.DataFrame({"symbol": ["BMAL1"], "prev_symbol": ["ARNTL"], "alias_symbol": [None]})


def edge_params(**changes: object) -> dict:
    params = project_parameters(ROOT)["data_processing"]
    return {**params["edges"], "format": "collectri", **changes}, params["genes"]


def test_complexes_and_aliases_reach_the_harmonisation():
    params, genes = edge_params()
    edges, report = nodes.harmonise_edges(COLLECTRI, GENES, {}, params, genes, HGNC)
    assert set(edges["regulator"]) == {"E0", "E1", "E2", "E3", "E4", "E5", "E6", "E7"}
    assert set(report["action"]) >= {"expanded", "matched"}
    params, genes = edge_params(complexes="drop")
    edges, report = nodes.harmonise_edges(COLLECTRI, GENES, {}, params, genes, {})
    assert edges.empty
    assert report.loc[report["action"].eq("dropped"), "reason"].tolist() == [
        "complex regulator: AP1",
        "regulator not a gene: BMAL1",
    ]


def test_deduction_options_come_from_the_knowledge_base_parameters():
    params = project_parameters(ROOT)["knowledge_base"]
    options = deduction_options(params)
    assert options["variant"] == params["variant"] and options["margin"] == params["margin"]
    assert options["abstention"] == Abstention.from_params(params["abstention"])
    off = deduction_options({"variant": "integer", "margin": 0.0})
    assert not off["abstention"].active
    assert np.isfinite(options["abstention"].decay)
