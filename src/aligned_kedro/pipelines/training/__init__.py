"""Neural predictors, the adaptor's weights, the alignment stage "A" and its baselines."""

from .pipeline import align_stage, create_pipeline, graph_pipeline, with_graph

__all__ = ["align_stage", "create_pipeline", "graph_pipeline", "with_graph"]
