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

The other cases time each evaluation node of the `aligned` pipeline
(`pipelines/evaluation/nodes.py`) on inputs of DoRothEA A-E's size, each against the
same 60 s target (`BENCH analysis_<node> ...`): the original GRN above and two refined
GRNs (each with 2% of its edges removed and as many added, a refined edge table per
round), a universe of 20,000 measured genes, and per round the long predictions table
of 300 conditions x 20,000 genes (every row non-trivial, the largest it can be).

- `node_grn_topology`: the node, on the original and both refined GRNs (three
  `grn_topology` calls and their degree tables).
- `node_shortcut_edges`: Table 10 of both rounds' added edges (boolean closure rows).
- `node_knowledge_usage`: Tables 6-7 of both rounds' predictions.
- `node_grn_diff_plot`: the refined GRN figure of both rounds.
Each is exact (nothing sampled); there is no naive method (``naive=none``): the nodes
are timed as the pipeline runs them.
"""

from __future__ import annotations

import multiprocessing
import resource
import sys
import time
from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandas as pd
from harness import device_label, run_cases, synthetic_grn

from aligned_kedro.core.evaluation.analysis.topology import grn_graph, grn_topology
from aligned_kedro.pipelines.evaluation import nodes

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
        *(
            Case(name, 20_000, 1_300, 450_000)
            for name in (
                "node_grn_topology",
                "node_shortcut_edges",
                "node_knowledge_usage",
                "node_grn_diff_plot",
            )
        ),
    )
}
ROUNDS = 2
EDIT_SHARE = 0.02
CONDITIONS = 300


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


def refined_report(edges: pd.DataFrame, genes: list[str], rng: np.random.Generator) -> pd.DataFrame:
    """A refined edge table of `edges`: EDIT_SHARE of them removed, as many added."""
    n_edits = int(EDIT_SHARE * len(edges))
    status = np.full(len(edges), "kept", dtype=object)
    status[rng.choice(len(edges), size=n_edits, replace=False)] = "removed"
    regulators = edges["regulator"].unique()
    added = pd.DataFrame(
        {
            "regulator": rng.choice(regulators, size=n_edits),
            "target": rng.choice(np.asarray(genes, dtype=object), size=n_edits),
            "sign": rng.choice([1, -1], size=n_edits),
        }
    )
    added = added[added["regulator"] != added["target"]]
    known = pd.MultiIndex.from_frame(edges[["regulator", "target"]])
    added = added[~pd.MultiIndex.from_frame(added[["regulator", "target"]]).isin(known)]
    added = added.drop_duplicates(["regulator", "target"])
    table = pd.concat(
        [edges.assign(status=status), added.assign(status="added")], ignore_index=True
    )
    return table.assign(
        score=np.where(table["status"] == "removed", 0.0, 1.0),
        support=rng.normal(size=len(table)),
        support_observed=rng.normal(size=len(table)),
        support_predicted=rng.normal(size=len(table)),
        evidence="combined",
    )


def predictions_table(genes: list[str], rng: np.random.Generator) -> pd.DataFrame:
    """The long (condition, gene_id, y_hat, a, y_bar) table of CONDITIONS x genes."""
    conditions = [f"C{i:04d}" for i in range(CONDITIONS)]
    size = CONDITIONS * len(genes)
    return pd.DataFrame(
        {
            "condition": np.repeat(np.asarray(conditions, dtype=object), len(genes)),
            "gene_id": np.tile(np.asarray(genes, dtype=object), CONDITIONS),
            "y_hat": rng.integers(-1, 2, size=size),
            "a": rng.integers(0, 2, size=size),
            "y_bar": rng.integers(-1, 2, size=size),
        }
    )


def run_node(name: str) -> dict[str, object]:
    """One evaluation node on DoRothEA-sized inputs, timed (wall and CPU)."""
    case = CASES[name]
    rng = np.random.default_rng(SEED)
    edges, genes = synthetic_grn(
        case.n_genes, case.n_regulators, case.n_edges, case.inhibitory, rng
    )
    reports = [refined_report(edges, genes, rng) for _ in range(ROUNDS)]
    universe = pd.DataFrame({"gene_id": genes, "measured": True})
    if name == "node_grn_topology":
        refined = [
            r.loc[r["status"] != "removed", ["regulator", "target", "sign"]] for r in reports
        ]
        params = {"communities": "auto", "greedy_max_edges": 20_000}
        call = lambda: nodes.grn_topology(edges, params, 0, *refined)  # noqa: E731
    elif name == "node_shortcut_edges":
        call = lambda: nodes.shortcut_edges(edges, universe, 4, *reports)  # noqa: E731
    elif name == "node_knowledge_usage":
        predictions = [predictions_table(genes, rng) for _ in range(ROUNDS)]
        conditions = predictions[0]["condition"].unique().tolist()
        split = {"train": conditions[:240], "test": conditions[240:]}
        params = {"split": "test", "degree_bins": [1, 5, 10]}
        call = lambda: nodes.knowledge_usage(edges, universe, split, params, *predictions)  # noqa: E731
    else:
        call = lambda: nodes.grn_diff_plot({"top_regulators": 15}, *reports)  # noqa: E731
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "case": name,
        "n_genes": case.n_genes,
        "n_edges": len(edges),
        "rounds": ROUNDS,
        "edited_per_round": int((reports[0]["status"] != "kept").sum()),
        "seconds": wall,
        "cpu_s": cpu,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_case(name: str) -> dict[str, object]:
    if name.startswith("node_"):
        return run_node(name)
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
    if r["case"].startswith("node_"):
        return (
            f"BENCH analysis_{r['case'].removeprefix('node_')} {device_label()} "
            f"n_genes={r['n_genes']} n_edges={r['n_edges']} rounds={r['rounds']} "
            f"edited_per_round={r['edited_per_round']} sampled=False "
            f"seconds={r['seconds']:.1f} cpu_s={r['cpu_s']:.1f} "
            f"peak_rss_mb={r['peak_rss_mb']:.0f} naive=none "
            f"within_target={r['seconds'] < TARGET_S}"
        )
    return (
        f"BENCH topology_{r['case']} {device_label()} "
        f"n_nodes={r['n_nodes']} n_edges={r['n_edges']} "
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
