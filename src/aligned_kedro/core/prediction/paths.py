"""Signed paths through the KB that decide δ_KB (section 2.2, Eq. 1, appendix B).

R+(k) and R-(k) count walks of k+1 steps through R+(0), whose diagonal lets a walk pause,
and R-(0). A walk of L real interactions (L <= k+1) is counted C(k+1, L) times by the
integer variant, once per placement of its k+1-L pauses; the Boolean variant only asks
whether some walk of each sign exists. A walk's effect on its last gene is the perturbed
gene's sign times (-1)^(inhibitions). So for an input x the positive and negative counts

    pos_j = sum_g [x_g > 0] R+(k)[g, j] + [x_g < 0] R-(k)[g, j]
    neg_j = sum_g [x_g > 0] R-(k)[g, j] + [x_g < 0] R+(k)[g, j]

give (R+(k) - R-(k))^T x = pos - neg, whose sign (beyond the margin) is δ_KB (Eq. 1).
Walks move on (gene, effect sign) pairs: an edge u -> v of sign e takes (u, s) to
(v, s·e). Everything here works on the rows of the perturbed genes; nothing n x n.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from math import comb

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra, shortest_path

from aligned_kedro.core.errors import InputError
from aligned_kedro.core.knowledge import KnowledgeBase, closure_rows

UNREACHED = np.iinfo(np.int8).max
ARROWS = {1: "->", -1: "-|"}


def _sources(X: sp.spmatrix | np.ndarray, n: int) -> sp.csr_matrix:
    matrix = sp.csr_matrix(X, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[1] != n:
        raise InputError(f"X has shape {matrix.shape}; the knowledge base has {n} genes")
    matrix.eliminate_zeros()
    if not np.isin(matrix.data, (-1.0, 1.0)).all():
        raise InputError("perturbation values must be in {-1, 0, 1}", source="X")
    return matrix


def path_counts(
    kb: KnowledgeBase, X: sp.spmatrix | np.ndarray, k: int, variant: str = "integer"
) -> tuple[np.ndarray, np.ndarray]:
    """Positive and negative closure counts of each perturbation's walks to each gene.

    Parameters
    ----------
    kb : KnowledgeBase
        The KB whose closure R±(k) (Eq. 1) decides δ_KB.
    X : array or sparse matrix, shape (m, n)
        Perturbations in {-1, 0, 1}.
    k : int
        Closure depth: walks of at most k+1 interactions.
    variant : {"integer", "boolean"}
        Integer counts walks (each of L interactions C(k+1, L) times); Boolean counts the
        perturbed genes with some walk of the sign.

    Returns
    -------
    pos, neg : ndarray, shape (m, n), float64
        ``pos - neg`` is (R+(k) - R-(k))^T x, so δ_KB = sign(pos - neg) beyond the margin.
    """
    matrix = _sources(X, kb.n_genes)
    up = (matrix > 0).astype(np.float64)
    down = (matrix < 0).astype(np.float64)
    pos = up.toarray()
    neg = down.toarray()
    perturbed = np.unique(matrix.indices)
    regulators = perturbed[np.isin(perturbed, kb.regulators)]
    if len(regulators):
        r_pos, r_neg = closure_rows(kb, regulators, k, variant)
        r_pos[np.arange(len(regulators)), regulators] -= 1.0
        sources = sp.hstack([up[:, regulators], down[:, regulators]], format="csr")
        pos += sources @ np.vstack([r_pos, r_neg])
        neg += sources @ np.vstack([r_neg, r_pos])
    return pos, neg


def lifted_graph(kb: KnowledgeBase) -> sp.csr_matrix:
    """Real interactions on (gene, effect) nodes, 2n x 2n: node g is (g, +), n + g is
    (g, -); an activation keeps the effect, an inhibition flips it. The self-activation
    diagonal of R+(0) is a pause, not an interaction; a self-inhibition is one."""
    pos = kb.r_pos - sp.diags(kb.r_pos.diagonal(), format="csr")
    pos.eliminate_zeros()
    return sp.bmat([[pos, kb.r_neg], [kb.r_neg, pos]], format="csr", dtype=np.float64)


@dataclass(frozen=True)
class ShortestWalks:
    """Shortest signed walks from each source gene perturbed upwards (x_g = +1).

    `dist[i, node]` is the number of interactions of the shortest walk from regulator
    `sources[i]` to the (gene, effect) node (UNREACHED beyond k+1); `pred[i, node]` its
    previous node (-1 at the source). A gene that regulates nothing reaches only itself. A
    knockout of the source flips every effect.
    """

    genes: tuple[str, ...]
    sources: np.ndarray
    dist: np.ndarray
    pred: np.ndarray

    def walk(self, source: int, gene: int, effect: int) -> list[int]:
        """Nodes of the shortest walk from `source` (perturbed with sign +1) to `gene`
        with `effect`; empty when there is none within k+1 interactions."""
        n = len(self.genes)
        node = gene + (n if effect < 0 else 0)
        i = int(np.searchsorted(self.sources, source))
        if i == len(self.sources) or self.sources[i] != source:
            return [node] if node == source else []
        if self.dist[i, node] == UNREACHED:
            return []
        nodes = [node]
        while self.pred[i, nodes[-1]] >= 0:
            nodes.append(int(self.pred[i, nodes[-1]]))
        return nodes[::-1]

    def text(self, nodes: list[int], names: np.ndarray) -> str:
        """``crp -| fnr -> narK``: gene names joined by the interactions' arrows."""
        n = len(self.genes)
        parts = [str(names[nodes[0] % n])]
        for before, after in zip(nodes, nodes[1:], strict=False):
            sign = 1 if (before < n) == (after < n) else -1
            parts += [ARROWS[sign], str(names[after % n])]
        return " ".join(parts)


def shortest_walks(kb: KnowledgeBase, sources: np.ndarray, k: int) -> ShortestWalks:
    """Breadth-first search on the lifted graph from (g, +), to depth k+1, for every
    source gene g that regulates something."""
    n = kb.n_genes
    sources = np.unique(np.asarray(sources, dtype=np.intp))
    sources = sources[np.isin(sources, kb.regulators)]
    dist = np.full((len(sources), 2 * n), UNREACHED, dtype=np.int8)
    pred = np.full((len(sources), 2 * n), -1, dtype=np.int32)
    if len(sources):
        lengths, previous = dijkstra(
            lifted_graph(kb),
            directed=True,
            unweighted=True,
            indices=sources,
            return_predecessors=True,
            limit=k + 1,
        )
        within = np.isfinite(lengths)
        dist[within] = lengths[within].astype(np.int8)
        pred[within] = previous[within]
        pred[pred < 0] = -1
    return ShortestWalks(tuple(kb.genes), sources, dist, pred)


def shortest_path_text(
    walks: ShortestWalks,
    x: Mapping[int, int],
    gene: int,
    effect: int,
    names: np.ndarray,
) -> str:
    """The shortest walk from any perturbed gene of `x` (gene -> sign) that moves `gene`
    by `effect`, as text; "" when none has at most k+1 interactions."""
    best: list[int] = []
    for source, sign in sorted(x.items()):
        nodes = walks.walk(source, gene, effect * sign)
        if nodes and (not best or len(nodes) < len(best)):
            best = nodes
    return walks.text(best, names) if best else ""


@dataclass(frozen=True)
class SignedPath:
    """One walk of real interactions from a perturbed gene: `genes` (indices) and the
    `signs` of its interactions; `effect` on the last gene given the perturbation's sign;
    `weight` is how often the closure counts it (C(k+1, L) for the integer variant, 1 for
    the Boolean one, which only asks whether a walk exists)."""

    genes: tuple[int, ...]
    signs: tuple[int, ...]
    effect: int
    weight: int

    @property
    def length(self) -> int:
        return len(self.signs)


def _distance_to(graph: sp.csr_matrix, target: int, n: int) -> np.ndarray:
    """Fewest interactions from every gene to `target`, ignoring signs."""
    plain = (graph[:n, :n] + graph[:n, n:]).T.tocsr()
    lengths = shortest_path(plain, directed=True, unweighted=True, indices=[target])[0]
    return np.where(np.isfinite(lengths), lengths, np.inf)


def signed_paths(
    kb: KnowledgeBase,
    x: Mapping[int, int],
    target: int,
    k: int,
    variant: str = "integer",
    *,
    limit: int | None = None,
) -> list[SignedPath]:
    """Walks of at most k+1 interactions from the perturbed genes of `x` (gene index ->
    sign) to `target`, shortest first, at most `limit` (None: all). Summing `weight` over
    all of them by `effect` gives the `path_counts` of the integer variant."""
    n = kb.n_genes
    graph = lifted_graph(kb)
    remaining = _distance_to(graph, target, n)
    out_edges = graph[:n]
    found: list[SignedPath] = []

    def extend(walk: list[int], signs: list[int], length: int) -> Iterator[SignedPath]:
        here = walk[-1]
        if len(signs) == length:
            if here == target:
                effect = x[walk[0]] * (int(np.prod(signs)) if signs else 1)
                yield SignedPath(tuple(walk), tuple(signs), effect, weight)
            return
        if len(signs) + remaining[here] > length:
            return
        for node in out_edges.indices[out_edges.indptr[here] : out_edges.indptr[here + 1]]:
            walk.append(int(node % n))
            signs.append(1 if node < n else -1)
            yield from extend(walk, signs, length)
            walk.pop()
            signs.pop()

    for length in range(k + 2):
        weight = comb(k + 1, length) if variant == "integer" else 1
        for source in sorted(x):
            for path in extend([int(source)], [], length):
                found.append(path)
                if limit is not None and len(found) >= limit:
                    return found
    return found
