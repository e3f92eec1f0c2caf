"""GRN harmonisation: each supported resource (one module per format, as decoupler's
``op/`` has one per resource) becomes the same signed edge table over gene IDs, names
resolve through one resolver, and the measured genes form the universe."""

from aligned_kedro.core.data.harmonise.edges import (
    EFFECT_SIGNS,
    harmonise_edges,
    read_edge_table,
)
from aligned_kedro.core.data.harmonise.effects import EDGE_FORMATS, edge_effects
from aligned_kedro.core.data.harmonise.gene_graph import harmonise_gene_graph
from aligned_kedro.core.data.harmonise.names import (
    name_resolver,
    resolve_perturbations,
    unknown_perturbations,
    with_kb_genes,
)
from aligned_kedro.core.data.harmonise.universe import gene_universe

__all__ = [
    "EDGE_FORMATS",
    "EFFECT_SIGNS",
    "edge_effects",
    "gene_universe",
    "harmonise_edges",
    "harmonise_gene_graph",
    "name_resolver",
    "read_edge_table",
    "resolve_perturbations",
    "unknown_perturbations",
    "with_kb_genes",
]
