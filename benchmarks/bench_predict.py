"""Benchmark of predicting and explaining perturbations (`core/prediction`) against a naive
loop that asks for one perturbation at a time.

Run `python benchmarks/bench_predict.py` (all cases, each in a fresh process so that peak
RSS is per case) or `--case norman_scale`. The GRN is synthetic at Norman scale (bench_closure's
shape), f_y an untrained GNN of the project's default size (training does not change what
prediction costs). Requests are named by gene symbol: knockouts of one, two or three genes
and some activations. "Predict and explain" is the whole answer for every perturbation and
gene, in blocks of `block` requests: ȳ, the adaptor's choice and probability, f_y's class
probabilities, δ_KB with its positive and negative path counts, and the long table of the
`top` responding genes of each perturbation with their shortest signed paths. The naive
loop does the same one request at a time, timed on `naive` requests and extrapolated.
Prints one `BENCH predict_<case> ...` line per case.
"""

from __future__ import annotations

import resource
import sys
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from harness import run_cases, synthetic_grn

from aligned_kedro.core.knowledge import compile_kb
from aligned_kedro.core.learning import (
    ModelConfig,
    TrainConfig,
    TrainedModel,
    build_model,
    to_state,
)
from aligned_kedro.core.learning.models import kb_edge_index
from aligned_kedro.core.prediction import (
    Bundle,
    bundle_state,
    parse_requests,
    predict_requests,
    prediction_table,
    resolve_requests,
)

SEED = 20260101


@dataclass(frozen=True)
class Case:
    name: str
    n_genes: int
    n_regulators: int
    n_edges: int
    n_requests: int
    k: int = 4
    top: int = 20
    block: int = 1_000
    naive: int = 30
    inhibitory: float = 0.13


CASES = {
    case.name: case
    for case in (
        Case("norman_scale", 5_000, 1_200, 45_000, 10_000),
        Case("ecoli_scale", 3_923, 200, 4_500, 1_000, naive=50),
    )
}


def make_bundle(case: Case, rng: np.random.Generator) -> tuple[Bundle, list[str]]:
    edges, ids = synthetic_grn(case.n_genes, case.n_regulators, case.n_edges, case.inhibitory, rng)
    names = [f"GENE{i}" for i in range(case.n_genes)]
    kb = compile_kb(edges, ids)
    config = ModelConfig(model_type="gnn", n_genes=case.n_genes)
    edge_index = kb_edge_index(kb.r_pos, kb.r_neg)
    model = TrainedModel(
        build_model(config, edge_index), config, TrainConfig(), True, {}, edge_index
    )
    universe = pd.DataFrame({"gene_id": ids, "gene_name": names})
    measured = pd.DataFrame(
        np.zeros((20, case.n_genes), dtype=np.int8),
        index=pd.Index([f"c{i}" for i in range(20)], name="condition"),
        columns=ids,
    )
    for i in range(20):
        measured.iloc[i, rng.choice(case.n_genes, 1)] = -1
    state = bundle_state(
        to_state(model),
        edges,
        edges,
        universe,
        universe,
        None,
        measured,
        measured,
        {"train": list(measured.index[:15]), "test": list(measured.index[15:])},
        k=case.k,
        variant="integer",
        margin=0.0,
    )
    return Bundle.from_state(state), names


def requests(case: Case, names: list[str], rng: np.random.Generator) -> pd.DataFrame:
    """Distinct knockouts of 1-3 genes (mostly regulators' names) and a tenth activations."""
    seen: set[tuple[str, ...]] = set()
    rows = []
    while len(rows) < case.n_requests:
        size = int(rng.choice([1, 2, 3], p=[0.5, 0.4, 0.1]))
        genes = tuple(sorted(rng.choice(len(names), size, replace=False).tolist()))
        if genes in seen:
            continue
        seen.add(genes)
        kind = "OE" if rng.random() < 0.1 else "KO"
        rows.append(("+".join(names[g] for g in genes), kind))
    return pd.DataFrame(rows, columns=["perturbation", "perturbation_type"])


def answer(bundle: Bundle, asked: pd.DataFrame, top: int) -> int:
    table, X = resolve_requests(parse_requests(asked), bundle.genes, bundle.gene_ids)
    prediction = predict_requests(bundle, table, X)
    return len(prediction_table(bundle, prediction, top=top))


def run_case(name: str) -> dict[str, object]:
    case = CASES[name]
    rng = np.random.default_rng(SEED)
    bundle, names = make_bundle(case, rng)
    asked = requests(case, names, rng)
    start, cpu = time.perf_counter(), time.process_time()
    rows = sum(
        answer(bundle, asked.iloc[b : b + case.block], case.top)
        for b in range(0, len(asked), case.block)
    )
    seconds, cpu_s = time.perf_counter() - start, time.process_time() - cpu
    start = time.perf_counter()
    for i in range(case.naive):
        answer(bundle, asked.iloc[i : i + 1], case.top)
    naive_each = (time.perf_counter() - start) / case.naive
    return {
        "case": name,
        "perturbations": case.n_requests,
        "genes": case.n_genes,
        "edges": case.n_edges,
        "k": case.k,
        "seconds": seconds,
        "cpu_s": cpu_s,
        "table_rows": rows,
        "naive_s": naive_each * case.n_requests,
        "naive_timed": case.naive,
        "speedup": naive_each * case.n_requests / seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def format_line(r: dict[str, object]) -> str:
    return (
        f"BENCH predict_{r['case']} perturbations={r['perturbations']} genes={r['genes']} "
        f"edges={r['edges']} k={r['k']} seconds={r['seconds']:.1f} cpu_s={r['cpu_s']:.1f} "
        f"table_rows={r['table_rows']} naive_s={r['naive_s']:.0f} "
        f"(extrapolated from {r['naive_timed']}) speedup={r['speedup']:.1f} "
        f"peak_rss_mb={r['peak_rss_mb']:.0f}"
    )


if __name__ == "__main__":
    sys.exit(run_cases(__file__, CASES, run_case, format_line, description=__doc__))
