"""Benchmark of a human GRN of DoRothEA A-E's size and shape: speed, and what deduction says.

Run `python benchmarks/bench_human_kb.py` (all cases, each in a fresh process so that peak
RSS is per case) or `--case dorothea_scale`. Prints one `BENCH ...` line per case.

- `dorothea_scale`: a synthetic DoRothEA-format table (``tf, confidence, target, mor``; 20,000
  genes, 1,300 TFs with a heavy-tailed out-degree, 450,000 edges, levels A-E) written to a
  TSV and taken the way a run takes it: loading, harmonisation (`edge_effects`, then
  `harmonise_edges` against a gene table of 20,000 symbols), `compile_kb`, and δ_KB of 1,000
  TF knockouts at k = 4 under the project's default `knowledge_base.abstention` and with the
  rule off. The naive method, one `deduce` call per knockout, is timed on `naive` knockouts
  (it must give the same rows) and extrapolated to all of them. Budget: loading through
  deduction under 10 s and 4 GB.
- `dense_truth`: how informative deduction stays on a dense KB with a known truth. A
  DoRothEA-density KB (5,000 genes, 330 regulators, 118,000 edges) hides a sparse true GRN
  (each KB edge true with probability 0.07, 15% of the true edges with the opposite sign in
  the KB); the labels of 300 TF knockouts are the true GRN's δ at k = 4. Macro F1 of δ_KB
  against them (perturbed genes left out) and the median share of genes each knockout
  changes, mean ± sd over 3 seeds, for the default rule, the raw sign, the Boolean variant
  and "no change"; the raw sign is the comparison, timed in the same run.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from harness import run_cases, synthetic_grn

from aligned_kedro.core.data.harmonise import edge_effects, harmonise_edges
from aligned_kedro.core.evaluation.metrics import macro_f1
from aligned_kedro.core.knowledge import Abstention, changed_shares, compile_kb, deduce

SEED = 20260101
PARAMETERS = Path(__file__).resolve().parents[1] / "conf" / "base" / "parameters_knowledge_base.yml"
LEVELS = ("A", "B", "C", "D", "E")


def default_rule() -> Abstention:
    """The project's default abstention rule (conf/base)."""
    params = yaml.safe_load(PARAMETERS.read_text())["knowledge_base"]
    return Abstention.from_params(params.get("abstention"))


@dataclass(frozen=True)
class Case:
    name: str
    n_genes: int
    n_regulators: int
    n_edges: int
    n_knockouts: int
    k: int = 4
    inhibitory: float = 0.2
    naive: int = 50
    true_share: float = 0.07
    flipped: float = 0.15
    seeds: int = 3


CASES = {
    "dorothea_scale": Case("dorothea_scale", 20_000, 1_300, 450_000, 1_000),
    "dense_truth": Case("dense_truth", 5_000, 330, 118_000, 300),
}


def knockouts(kb, n: int, rng: np.random.Generator) -> np.ndarray:
    """x = -1 for `n` distinct regulators, one per row."""
    picked = rng.choice(kb.regulators, size=n, replace=False)
    X = np.zeros((n, kb.n_genes))
    X[np.arange(n), picked] = -1
    return X


class Timer:
    """Wall-clock and CPU seconds of named steps (CPU time of this process: on a shared
    machine the wall clock also counts other processes' turns)."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    def __call__(self, name: str, step, *args, **kwargs):
        w0, c0 = time.perf_counter(), time.process_time()
        result = step(*args, **kwargs)
        self.wall[name] = self.wall.get(name, 0.0) + time.perf_counter() - w0
        self.cpu[name] = self.cpu.get(name, 0.0) + time.process_time() - c0
        return result

    def fields(self, scale: float = 1.0) -> dict[str, float]:
        return {
            **{f"{k}_s": v / scale for k, v in self.wall.items()},
            **{f"{k}_cpu_s": v / scale for k, v in self.cpu.items()},
        }


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def dorothea_scale(case: Case) -> dict[str, object]:
    rng = np.random.default_rng(SEED)
    edges, genes = synthetic_grn(
        case.n_genes, case.n_regulators, case.n_edges, case.inhibitory, rng
    )
    table = pd.DataFrame(
        {
            "tf": edges["regulator"],
            "confidence": rng.choice(list(LEVELS), size=len(edges)),
            "target": edges["target"],
            "mor": edges["sign"],
        }
    )
    gene_table = pd.DataFrame({"gene_id": [f"ENSG{i:011d}" for i in range(len(genes))]})
    gene_table["gene_name"] = genes
    rule = default_rule()
    timer = Timer()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dorothea.tsv"
        table.to_csv(path, sep="\t", index=False)
        raw = timer("load", pd.read_csv, path, sep="\t", keep_default_na=False)
    effects, _ = timer("harmonise", edge_effects, raw, format="dorothea", dorothea_levels=LEVELS)
    harmonised, _ = timer("harmonise", harmonise_edges, effects, gene_table)
    kb = timer("compile", compile_kb, harmonised, gene_table["gene_id"].tolist(), conflict="both")
    X = knockouts(kb, case.n_knockouts, rng)
    ruled = timer("deduce", deduce, kb, X, case.k, abstention=rule)
    raw_sign = timer("deduce_raw", deduce, kb, X, case.k)
    naive = np.stack(
        [timer("naive", deduce, kb, X[i], case.k, abstention=rule) for i in range(case.naive)]
    )
    times = timer.fields()
    naive_s = times.pop("naive_s") * case.n_knockouts / case.naive
    naive_cpu_s = times.pop("naive_cpu_s") * case.n_knockouts / case.naive
    steps = ("load", "harmonise", "compile", "deduce")
    total = sum(times[f"{key}_s"] for key in steps)
    total_cpu = sum(times[f"{key}_cpu_s"] for key in steps)
    peak = peak_rss_mb()
    return {
        "case": case.name,
        "n_genes": kb.n_genes,
        "n_regulators": len(kb.regulators),
        "n_edges": len(harmonised),
        "n_knockouts": case.n_knockouts,
        "k": case.k,
        "rule": f"balance={rule.balance},decay={rule.decay}",
        **times,
        "naive_s": naive_s,
        "naive_cpu_s": naive_cpu_s,
        "speedup": naive_cpu_s / times["deduce_cpu_s"],
        "naive_equal": bool(np.array_equal(naive, ruled[: case.naive])),
        "share_rule": float(np.median(changed_shares(ruled, X))),
        "share_raw": float(np.median(changed_shares(raw_sign, X))),
        "total_s": total,
        "total_cpu_s": total_cpu,
        "peak_rss_mb": peak,
        "within_budget": bool(min(total, total_cpu) < 10 and peak < 4096),
    }


def dense_truth(case: Case) -> dict[str, object]:
    rule = default_rule()
    scores: dict[str, list[tuple[float, float]]] = {}
    timer = Timer()
    truth_share = []
    for seed in range(case.seeds):
        rng = np.random.default_rng(SEED + seed)
        edges, genes = synthetic_grn(
            case.n_genes, case.n_regulators, case.n_edges, case.inhibitory, rng
        )
        true = edges[rng.random(len(edges)) < case.true_share].copy()
        true.loc[rng.random(len(true)) < case.flipped, "sign"] *= -1
        kb = compile_kb(edges, genes, conflict="drop")
        X = knockouts(kb, case.n_knockouts, rng)
        Y = deduce(compile_kb(true, genes, conflict="drop"), X, case.k)
        ruled = timer("deduce", deduce, kb, X, case.k, abstention=rule)
        raw_sign = timer("deduce_raw", deduce, kb, X, case.k)
        methods = {
            "rule": ruled,
            "raw": raw_sign,
            "boolean": deduce(kb, X, case.k, "boolean"),
            "no_change": np.zeros_like(Y),
        }
        scored = X == 0
        for name, pred in methods.items():
            f1 = macro_f1(Y[scored], pred[scored])["f1"]
            share = float(np.median(changed_shares(pred, X)))
            scores.setdefault(name, []).append((f1, share))
        truth_share.append(float(np.median(changed_shares(Y, X))))
    result: dict[str, object] = {
        "case": case.name,
        "n_genes": case.n_genes,
        "n_regulators": case.n_regulators,
        "n_edges": case.n_edges,
        "n_knockouts": case.n_knockouts,
        "k": case.k,
        "seeds": case.seeds,
        "rule": f"balance={rule.balance},decay={rule.decay}",
        "share_truth": float(np.mean(truth_share)),
    }
    for name, values in scores.items():
        f1, share = np.array(values).T
        result[f"f1_{name}"] = f"{f1.mean():.4f}±{f1.std(ddof=1):.4f}"
        result[f"share_{name}"] = f"{share.mean():.4f}"
    result.update(timer.fields(scale=case.seeds))
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def run_case(name: str) -> dict[str, object]:
    case = CASES[name]
    return dorothea_scale(case) if name == "dorothea_scale" else dense_truth(case)


def format_line(r: dict[str, object]) -> str:
    def value(v: object) -> str:
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    fields = " ".join(f"{key}={value(v)}" for key, v in r.items() if key != "case")
    return f"BENCH {r['case']} {fields}"


def main(argv: list[str] | None = None) -> int:
    return run_cases(__file__, CASES, run_case, format_line, argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
