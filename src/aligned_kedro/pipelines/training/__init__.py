"""The round inputs, the GNN's graph, the adaptor's prior w and the baselines."""

from .pipeline import (
    baselines_pipeline,
    create_pipeline,
    graph_pipeline,
    inputs_pipeline,
    prior_pipeline,
)

__all__ = [
    "baselines_pipeline",
    "create_pipeline",
    "graph_pipeline",
    "inputs_pipeline",
    "prior_pipeline",
]
