"""Benchmark of row-restricted deduction (section 2.2) against the dense n x n closure (Eq. 1).

Run `python benchmarks/bench_closure.py` (all cases, each in a fresh process so that
peak RSS is per case) or `python benchmarks/bench_closure.py --case norman_scale`.
Prints one `BENCH ...` line per case.

The naive dense closure costs n³ per product: above `NAIVE_GENES` genes it is timed on a
GRN of the same shape scaled down to `NAIVE_GENES` genes (same conditions, checked equal
to `deduce` there) and extrapolated with (n / NAIVE_GENES)³.
"""

from __future__ import annotations

import resource
import sys
import time
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp
from harness import run_cases, synthetic_grn

from aligned_kedro.core.knowledge.deduction import deduce
from aligned_kedro.core.knowledge.kb import compile_kb

SEED = 20260101
NAIVE_GENES = 1_500


@dataclass(frozen=True)
class Case:
    name: str
    n_genes: int
    n_regulators: int
    n_edges: int
    n_conditions: int
    n_perturbed_pool: int
    k: int = 4
    inhibitory: float = 0.13


CASES = {
    "norman_scale": Case("norman_scale", 5_000, 1_200, 45_000, 300, n_perturbed_pool=150),
    "genome_scale": Case(
        "genome_scale",
        20_000,
        1_300,
        450_000,
        2_000,
        n_perturbed_pool=2_600,
    ),
}


def conditions(case: Case, regulators: np.ndarray, rng: np.random.Generator) -> sp.csr_matrix:
    """Knockouts (x = -1) of one or two genes, drawn mostly from the regulators."""
    others = np.setdiff1d(np.arange(case.n_genes), regulators)
    n_reg = min(len(regulators), int(0.8 * case.n_perturbed_pool))
    pool = np.concatenate(
        [
            rng.choice(regulators, size=n_reg, replace=False),
            rng.choice(others, size=case.n_perturbed_pool - n_reg, replace=False),
        ]
    )
    rows, cols = [], []
    for i in range(case.n_conditions):
        picked = rng.choice(pool, size=1 + int(rng.random() < 0.5), replace=False)
        rows += [i] * len(picked)
        cols += picked.tolist()
    return sp.csr_matrix(
        (-np.ones(len(rows)), (rows, cols)), shape=(case.n_conditions, case.n_genes)
    )


def naive_deduce(kb, X: sp.csr_matrix, k: int) -> np.ndarray:
    """Dense n x n closure by Eq. 1 iterated k times, then sign(X (R+(k) - R-(k)))."""
    p0, q0 = kb.r_pos.toarray(), kb.r_neg.toarray()
    p, q = p0.copy(), q0.copy()
    for _ in range(k):
        p, q = p0 @ p + q0 @ q, p0 @ q + q0 @ p
    return np.sign(X @ (p - q)).astype(np.int8)


def scaled(case: Case, n_genes: int) -> Case:
    """`case` with `n_genes` genes and regulators, edges and perturbed pool in proportion."""
    ratio = n_genes / case.n_genes
    return replace(
        case,
        n_genes=n_genes,
        n_regulators=round(case.n_regulators * ratio),
        n_edges=round(case.n_edges * ratio),
        n_perturbed_pool=round(case.n_perturbed_pool * ratio),
    )


def build(case: Case) -> tuple[object, sp.csr_matrix, float]:
    """The case's KB, its conditions and the seconds `compile_kb` took."""
    rng = np.random.default_rng(SEED)
    edges, genes = synthetic_grn(
        case.n_genes, case.n_regulators, case.n_edges, case.inhibitory, rng
    )
    t0 = time.perf_counter()
    kb = compile_kb(edges, genes)
    compile_s = time.perf_counter() - t0
    return kb, conditions(case, kb.regulators, rng), compile_s


def naive(case: Case) -> dict[str, object]:
    """The dense closure's seconds, timed at `NAIVE_GENES` genes at most and extrapolated
    with n³, and whether it equals `deduce` where it was timed."""
    timed = case if case.n_genes <= NAIVE_GENES else scaled(case, NAIVE_GENES)
    kb, X, _ = build(timed)
    t0 = time.perf_counter()
    reference = naive_deduce(kb, X, case.k)
    seconds = time.perf_counter() - t0
    return {
        "naive_s": seconds * (case.n_genes / timed.n_genes) ** 3,
        "naive_genes": timed.n_genes,
        "naive_equal": bool(np.array_equal(reference, deduce(kb, X, case.k, "integer"))),
    }


def run_case(name: str) -> dict[str, object]:
    """Run one case in this process and return its measurements."""
    case = CASES[name]
    start = time.perf_counter()
    kb, X, compile_s = build(case)
    t0 = time.perf_counter()
    deduce(kb, X, case.k, "integer")
    deduce_s = time.perf_counter() - t0
    result: dict[str, object] = {
        "case": name,
        "seed": SEED,
        "n_genes": case.n_genes,
        "n_regulators": len(kb.regulators),
        "n_edges": len(kb.edges()),
        "n_conditions": case.n_conditions,
        "k": case.k,
        "compile_s": compile_s,
        "deduce_s": deduce_s,
    }
    result |= naive(case)
    result["speedup"] = result["naive_s"] / deduce_s
    result["total_s"] = time.perf_counter() - start
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def format_line(r: dict[str, object]) -> str:
    head = (
        f"BENCH {r['case']} seed={r['seed']} n_genes={r['n_genes']} "
        f"n_regulators={r['n_regulators']} n_edges={r['n_edges']} "
        f"n_conditions={r['n_conditions']} k={r['k']} "
        f"compile_s={r['compile_s']:.3f} deduce_s={r['deduce_s']:.3f}"
    )
    extrapolated = r["naive_genes"] < r["n_genes"]
    naive = (
        f"naive_s={r['naive_s']:.2f} speedup={r['speedup']:.0f} naive_equal={r['naive_equal']} "
        f"naive_timed_at_genes={r['naive_genes']}{'_extrapolated_n3' if extrapolated else ''}"
    )
    return f"{head} {naive} total_s={r['total_s']:.2f} peak_rss_mb={r['peak_rss_mb']:.0f}"


def main(argv: list[str] | None = None) -> int:
    return run_cases(__file__, CASES, run_case, format_line, argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
