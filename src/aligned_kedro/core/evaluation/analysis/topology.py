"""Network topology of a GRN (Figure 4b): size, density, clustering, communities,
assortativity and degrees."""

from __future__ import annotations

import math
import warnings
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from aligned_kedro.core.errors import InputError


def grn_graph(edges: pd.DataFrame, source: str = "edge table") -> nx.DiGraph:
    """Directed graph of the direct interactions: one arc per regulator-target pair (both
    signs collapse to one arc), self-loops left out."""
    for column in ("regulator", "target"):
        if column not in edges.columns:
            raise InputError("missing column", source=source, column=column)
    off = edges[edges["regulator"] != edges["target"]]
    graph = nx.DiGraph()
    graph.add_edges_from(zip(off["regulator"], off["target"], strict=True))
    return graph


def _undefined_to_nan(value: Any) -> float:
    value = float(value)
    return value if math.isfinite(value) else float("nan")


COMMUNITY_METHODS = ("auto", "greedy", "louvain")
GREEDY_MAX_EDGES = 20_000


def community_method(n_edges: int, communities: str, greedy_max_edges: int) -> str:
    """The community method for an undirected graph of `n_edges` edges: `communities`
    itself, or for ``auto`` greedy (Clauset-Newman-Moore) up to `greedy_max_edges` edges
    and Louvain above, where greedy takes minutes (over 5 at DoRothEA A-E's 450,000)."""
    if communities != "auto":
        return communities
    return "greedy" if n_edges <= greedy_max_edges else "louvain"


def grn_topology(
    edges: pd.DataFrame,
    source: str = "edge table",
    *,
    communities: str = "auto",
    seed: int = 0,
    greedy_max_edges: int = GREEDY_MAX_EDGES,
) -> dict[str, float | str]:
    """Modularity, degree assortativity, density and degree statistics of a GRN (Figure 4b).

    Nodes are the genes with at least one edge other than a self-loop. Modularity is that
    of the greedy (Clauset-Newman-Moore) communities on the undirected graph, or of the
    Louvain communities (``communities="louvain"``, seeded; much faster on large hubs);
    ``auto`` takes greedy up to `greedy_max_edges` undirected edges and Louvain above
    (`community_method`), and ``community_method`` in the result names the one used.
    Every statistic is exact: none is sampled. ``assortativity`` is the degree
    assortativity of the undirected graph and ``assortativity_out_in`` the directed one
    (out-degree of the regulator against in-degree of the target). An undefined
    coefficient (for example all degrees equal) is NaN. Density is arcs / (n (n - 1)).
    """
    if communities not in COMMUNITY_METHODS:
        raise InputError(
            f"communities must be one of {COMMUNITY_METHODS}, got {communities!r}", source=source
        )
    graph = grn_graph(edges, source)
    n, m = graph.number_of_nodes(), graph.number_of_edges()
    undirected = graph.to_undirected()
    out: dict[str, float | str] = {
        "n_nodes": n,
        "n_edges": m,
        "n_self_loops": int((edges["regulator"] == edges["target"]).sum()),
        "density": m / (n * (n - 1)) if n > 1 else float("nan"),
    }
    method = community_method(undirected.number_of_edges(), communities, greedy_max_edges)
    out["community_method"] = method
    if undirected.number_of_edges():
        if method == "greedy":
            found = nx.community.greedy_modularity_communities(undirected)
        else:
            found = nx.community.louvain_communities(undirected, seed=seed)
        out["n_communities"] = len(found)
        out["modularity"] = float(nx.community.modularity(undirected, found))
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            out["assortativity"] = _undefined_to_nan(
                nx.degree_assortativity_coefficient(undirected)
            )
            out["assortativity_out_in"] = _undefined_to_nan(
                nx.degree_assortativity_coefficient(graph, x="out", y="in")
            )
    else:
        out.update(
            n_communities=0, modularity=np.nan, assortativity=np.nan, assortativity_out_in=np.nan
        )
    for direction, degrees in (("in", graph.in_degree()), ("out", graph.out_degree())):
        values = np.array([d for _, d in degrees], dtype=float)
        out[f"n_{direction}_degree_positive"] = int((values > 0).sum())
        out[f"{direction}_degree_mean"] = float(values.mean()) if n else np.nan
        out[f"{direction}_degree_median"] = float(np.median(values)) if n else np.nan
        out[f"{direction}_degree_max"] = float(values.max()) if n else np.nan
    return out


def degree_table(edges: pd.DataFrame, source: str = "edge table") -> pd.DataFrame:
    """In- and out-degree of every gene of the graph (self-loops left out)."""
    graph = grn_graph(edges, source)
    genes = sorted(graph.nodes)
    return pd.DataFrame(
        {
            "gene_id": genes,
            "in_degree": [graph.in_degree(g) for g in genes],
            "out_degree": [graph.out_degree(g) for g in genes],
        }
    )
