"""Benchmark of the adaptor prior `balanced` (`core/learning/adaptor.py: balanced_routing`) against
the naive search that rescores the whole ȳ with macro F1 for every gene it tries, and of
the oracle routing (`oracle_routing`, scored for every stage) against rescoring ȳ for
every count it tries.

Run `python benchmarks/bench_routing.py` (all cases, each in a fresh process so that peak
RSS is per case) or `--case norman_per_cell`. Labels, out-of-fold predictions and δ are
random ternary matrices with the class balance of real screens (about 90 % zeros), which
is all the search sees. The naive search is timed on `naive_genes` tried switches and
extrapolated to one pass over all genes; both make the same choices for those genes. The
oracle's naive counterpart is timed on a few candidates and extrapolated to the fewest
the search can try (3 starts x one pass x 101 counts for each kind of output where ŷ and
δ differ): a lower bound on the naive time.
Prints one `BENCH routing_<case> ...` line per case.
"""

from __future__ import annotations

import resource
import sys
import time
from dataclasses import dataclass

import numpy as np
from harness import run_cases

from aligned_kedro.core.evaluation.metrics import balanced_f1, macro_f1
from aligned_kedro.core.learning.adaptor import balanced_routing, combine, oracle_routing

SEED = 20260101


@dataclass(frozen=True)
class Case:
    name: str
    rows: int
    genes: int
    naive_genes: int = 20


CASES = {
    case.name: case
    for case in (
        Case("ecoli", 25, 3_923),
        Case("norman_pseudobulk", 250, 5_045),
        Case("norman_per_cell", 10_000, 5_045, naive_genes=3),
    )
}


def ternary(rng: np.random.Generator, shape: tuple[int, int], changed: float) -> np.ndarray:
    values = rng.choice([-1, 1], size=shape).astype(np.int8)
    return np.where(rng.random(shape) < changed, values, 0).astype(np.int8)


def run_case(name: str) -> dict[str, object]:
    case = CASES[name]
    rng = np.random.default_rng(SEED)
    shape = (case.rows, case.genes)
    Y = ternary(rng, shape, 0.1)
    H = np.where(rng.random(shape) < 0.6, Y, ternary(rng, shape, 0.1)).astype(np.int8)
    K = np.where(rng.random(shape) < 0.5, Y, ternary(rng, shape, 0.05)).astype(np.int8)
    start = time.perf_counter()
    w, score = balanced_routing(Y, H, K, max_passes=1)
    pass_s = time.perf_counter() - start

    naive = np.zeros(case.genes)
    start = time.perf_counter()
    best = balanced_f1(macro_f1(Y, H)["f1"], macro_f1(K, H)["f1"])
    for g in range(case.naive_genes):
        naive[g] = 1
        y_bar = combine(np.broadcast_to(naive, shape), H, K)
        candidate = balanced_f1(macro_f1(Y, y_bar)["f1"], macro_f1(K, y_bar)["f1"])
        if candidate > best:
            best = candidate
        else:
            naive[g] = 0
    naive_per_gene_s = (time.perf_counter() - start) / case.naive_genes
    start = time.perf_counter()
    oracle_a, oracle_score = oracle_routing(Y, H, K)
    oracle_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(3):
        y_bar = combine(oracle_a, H, K)
        balanced_f1(macro_f1(Y, y_bar)["f1"], macro_f1(K, y_bar)["f1"])
    kinds = len(np.unique((9 * (Y + 1) + 3 * (H + 1) + K + 1)[H != K]))
    naive_oracle_s = (time.perf_counter() - start) / 3 * 3 * kinds * 101
    return {
        "case": name,
        "rows": case.rows,
        "genes": case.genes,
        "pass_s": pass_s,
        "kb_share": float(w.mean()),
        "score": score,
        "naive_genes": case.naive_genes,
        "naive_pass_s": naive_per_gene_s * case.genes,
        "agree": bool(np.array_equal(w[: case.naive_genes], naive[: case.naive_genes])),
        "oracle_s": oracle_s,
        "oracle_score": oracle_score,
        "naive_oracle_s": naive_oracle_s,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def format_line(r: dict[str, object]) -> str:
    return (
        f"BENCH routing_{r['case']} rows={r['rows']} genes={r['genes']} pass_s={r['pass_s']:.3f} "
        f"kb_share={r['kb_share']:.3f} train_balanced_f1={r['score']:.4f} "
        f"naive_pass_s={r['naive_pass_s']:.1f} naive_genes_timed={r['naive_genes']} "
        f"speedup={r['naive_pass_s'] / r['pass_s']:.0f} naive_agrees={r['agree']} "
        f"oracle_s={r['oracle_s']:.3f} oracle_balanced_f1={r['oracle_score']:.4f} "
        f"naive_oracle_s_min={r['naive_oracle_s']:.1f} "
        f"oracle_speedup_min={r['naive_oracle_s'] / r['oracle_s']:.0f} "
        f"peak_rss_mb={r['peak_rss_mb']:.0f}"
    )


def main(argv: list[str] | None = None) -> int:
    return run_cases(__file__, CASES, run_case, format_line, argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
