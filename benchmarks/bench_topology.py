"""Benchmark of the GRN topology analysis (Figure 4b, `grn_topology`) at human scale.

Run `python benchmarks/bench_topology.py` (all cases, each in a fresh process so that peak
RSS is per case) or `--case dorothea_scale`. The GRN is synthetic with DoRothEA A-E's size
and shape (`dorothea_scale`: 20,000 genes, 1,300 TFs with a heavy-tailed out-degree,
450,000 edges) or Norman's (`norman_scale`: 5,000 genes, 1,200 regulators, 45,000 edges).
`grn_topology` runs with the project's default, ``communities="auto"`` (greedy up to
20,000 undirected edges, Louvain above); every statistic is exact, none sampled. The
naive method is the one the default used before: greedy (Clauset-Newman-Moore)
communities, run in a child process on the same graph and stopped after `NAIVE_CAP_S`
seconds of CPU (``naive_capped=True``: it needs at least that long, and the speedup is a
lower bound). Speedups compare CPU seconds, which a busy machine does not inflate.
Target: under 60 s.
Prints one `BENCH topology_<case> ...` line per case.
"""

from __future__ import annotations

import multiprocessing
import resource
import sys
import time
from dataclasses import dataclass

import networkx as nx
import numpy as np
from harness import run_cases, synthetic_grn

from aligned_kedro.core.evaluation.analysis.topology import grn_graph, grn_topology

SEED = 20260101
NAIVE_CAP_S = 60.0
TARGET_S = 60.0


@dataclass(frozen=True)
class Case:
    name: str
    n_genes: int
    n_regulators: int
    n_edges: int
    inhibitory: float = 0.13


CASES = {
    case.name: case
    for case in (
        Case("dorothea_scale", 20_000, 1_300, 450_000),
        Case("norman_scale", 5_000, 1_200, 45_000),
    )
}


def _greedy(graph: nx.Graph) -> None:
    cap = int(NAIVE_CAP_S)
    resource.setrlimit(resource.RLIMIT_CPU, (cap, cap + 5))  # SIGXCPU at the cap
    nx.community.greedy_modularity_communities(graph)


def naive_greedy_seconds(edges) -> tuple[float, float, bool]:
    """Wall and CPU seconds of greedy communities on the undirected graph (a forked child
    process), and whether it was stopped at `NAIVE_CAP_S` CPU seconds."""
    undirected = grn_graph(edges).to_undirected()
    child = multiprocessing.get_context("fork").Process(target=_greedy, args=(undirected,))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    child.start()
    child.join()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu, child.exitcode != 0


def run_case(name: str) -> dict[str, object]:
    case = CASES[name]
    rng = np.random.default_rng(SEED)
    edges, _ = synthetic_grn(case.n_genes, case.n_regulators, case.n_edges, case.inhibitory, rng)
    wall, cpu = time.perf_counter(), time.process_time()
    stats = grn_topology(edges, communities="auto", seed=0)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    naive_s, naive_cpu_s, capped = naive_greedy_seconds(edges)
    return {
        "case": name,
        **{k: stats[k] for k in ("n_nodes", "n_edges", "community_method", "n_communities")},
        "modularity": stats["modularity"],
        "topology_s": wall,
        "topology_cpu_s": cpu,
        "peak_rss_mb": peak,
        "naive_s": naive_s,
        "naive_cpu_s": naive_cpu_s,
        "naive_capped": capped,
    }


def format_line(r: dict[str, object]) -> str:
    return (
        f"BENCH topology_{r['case']} n_nodes={r['n_nodes']} n_edges={r['n_edges']} "
        f"community_method={r['community_method']} n_communities={r['n_communities']} "
        f"modularity={r['modularity']:.4f} sampled=False topology_s={r['topology_s']:.1f} "
        f"topology_cpu_s={r['topology_cpu_s']:.1f} peak_rss_mb={r['peak_rss_mb']:.0f} "
        f"naive=greedy_cnm naive_s={r['naive_s']:.1f} naive_cpu_s={r['naive_cpu_s']:.1f} "
        f"naive_capped={r['naive_capped']} "
        f"speedup_cpu={r['naive_cpu_s'] / r['topology_cpu_s']:.1f} "
        f"within_target={r['topology_s'] < TARGET_S}"
    )


def main(argv: list[str] | None = None) -> int:
    return run_cases(__file__, CASES, run_case, format_line, argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
