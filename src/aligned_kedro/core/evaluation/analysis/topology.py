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


def _arcs(edges: pd.DataFrame, source: str) -> tuple[np.ndarray, np.ndarray]:
    """The distinct regulator-target arcs without self-loops, (m, 2) node codes 0..n-1,
    and the gene of each code (the genes with at least one such arc)."""
    for column in ("regulator", "target"):
        if column not in edges.columns:
            raise InputError("missing column", source=source, column=column)
    off = edges.loc[edges["regulator"] != edges["target"], ["regulator", "target"]]
    codes, names = pd.factorize(pd.concat([off["regulator"], off["target"]], ignore_index=True))
    arcs = codes.reshape(2, -1).T
    arcs = np.unique(arcs, axis=0) if len(arcs) else arcs.reshape(0, 2)
    return arcs, np.asarray(names, dtype=object)


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson's r of the degrees at the two ends of each edge (Newman's degree
    assortativity); NaN when undefined."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        dx, dy = x - x.mean(), y - y.mean()
        return _undefined_to_nan((dx * dy).sum() / np.sqrt((dx * dx).sum() * (dy * dy).sum()))


def _modularity(pairs: np.ndarray, n: int, found: list[set[int]]) -> float:
    """Newman's modularity of the communities `found` on the undirected edges `pairs`:
    Σ_c L_c/m - (D_c/2m)²."""
    label = np.empty(n, dtype=np.intp)
    for c, members in enumerate(found):
        label[list(members)] = c
    m = len(pairs)
    inside = np.bincount(
        label[pairs[:, 0]][label[pairs[:, 0]] == label[pairs[:, 1]]], minlength=len(found)
    )
    degree = np.bincount(label[pairs.ravel()], minlength=len(found))
    return float((inside / m - (degree / (2.0 * m)) ** 2).sum())


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
    arcs, names = _arcs(edges, source)
    n = len(names)
    m = len(arcs)
    pairs = np.unique(np.sort(arcs, axis=1), axis=0)
    out: dict[str, float | str] = {
        "n_nodes": n,
        "n_edges": m,
        "n_self_loops": int((edges["regulator"] == edges["target"]).sum()),
        "density": m / (n * (n - 1)) if n > 1 else float("nan"),
    }
    method = community_method(len(pairs), communities, greedy_max_edges)
    out["community_method"] = method
    out_degree = np.bincount(arcs[:, 0], minlength=n).astype(float)
    in_degree = np.bincount(arcs[:, 1], minlength=n).astype(float)
    if len(pairs):
        undirected = nx.Graph()
        undirected.add_nodes_from(range(n))
        undirected.add_edges_from(pairs.tolist())
        if method == "greedy":
            found = nx.community.greedy_modularity_communities(undirected)
        else:
            found = nx.community.louvain_communities(undirected, seed=seed)
        out["n_communities"] = len(found)
        out["modularity"] = _modularity(pairs, n, found)
        degree = np.bincount(pairs.ravel(), minlength=n).astype(float)
        both = np.concatenate([pairs, pairs[:, ::-1]])
        out["assortativity"] = _pearson(degree[both[:, 0]], degree[both[:, 1]])
        out["assortativity_out_in"] = _pearson(out_degree[arcs[:, 0]], in_degree[arcs[:, 1]])
    else:
        out.update(
            n_communities=0, modularity=np.nan, assortativity=np.nan, assortativity_out_in=np.nan
        )
    for direction, values in (("in", in_degree), ("out", out_degree)):
        out[f"n_{direction}_degree_positive"] = int((values > 0).sum())
        out[f"{direction}_degree_mean"] = float(values.mean()) if n else np.nan
        out[f"{direction}_degree_median"] = float(np.median(values)) if n else np.nan
        out[f"{direction}_degree_max"] = float(values.max()) if n else np.nan
    return out


def degree_table(edges: pd.DataFrame, source: str = "edge table") -> pd.DataFrame:
    """In- and out-degree of every gene of the graph (self-loops left out)."""
    arcs, names = _arcs(edges, source)
    n = len(names)
    order = np.argsort(names)
    return pd.DataFrame(
        {
            "gene_id": names[order],
            "in_degree": np.bincount(arcs[:, 1], minlength=n)[order],
            "out_degree": np.bincount(arcs[:, 0], minlength=n)[order],
        }
    )
