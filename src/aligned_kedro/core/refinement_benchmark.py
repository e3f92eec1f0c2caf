"""Synthetic refinement benchmark of section 4.2: recover a known GRN from its own deductions.

The true GRN gives the data: Ȳ = δ_KB(x) (section 2.2) for one-hot knockouts of every
regulator plus a few random multi-gene knockouts. Refinement (Eq. 6) starts from a copy
corrupted by `corrupt` (equal numbers of edges removed and added) and is scored against
the truth on direct interactions and on the closure (indirect interactions, Eq. 1).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from aligned_kedro.core.closure import deduce
from aligned_kedro.core.errors import InputError
from aligned_kedro.core.kb import KnowledgeBase
from aligned_kedro.core.refine import closure_f1, corrupt, interaction_scores, refine

log = logging.getLogger(__name__)

BENCHMARK_COLUMNS = (
    "noise",
    "seed",
    "penalty",
    "direct_f1_before",
    "direct_f1",
    "direct_precision",
    "direct_recall",
    "supported_edges",
    "supported_precision",
    "closure_f1_before",
    "closure_f1",
    "edges_added",
    "edges_removed",
    "added_true",
    "removed_false",
    "iterations",
    "seconds",
)


def knockout_inputs(
    kb: KnowledgeBase,
    extra: int,
    max_genes: int,
    share_regulators: float,
    seed: int | np.random.Generator,
) -> sp.csr_matrix:
    """Inputs x (x = -1 for a knocked-out gene): one per regulator, then `extra` knockouts of
    1..`max_genes` genes, each gene a regulator with probability `share_regulators`."""
    if extra < 0 or max_genes < 1 or not 0.0 <= share_regulators <= 1.0:
        raise InputError(
            "knockout inputs need extra >= 0, max_genes >= 1 and share_regulators in [0, 1], "
            f"got extra={extra}, max_genes={max_genes}, share_regulators={share_regulators}"
        )
    rng = np.random.default_rng(seed)
    regs = kb.regulators
    others = np.setdiff1d(np.arange(kb.n_genes), regs)
    if not len(others):
        others = regs
    rows, cols = list(range(len(regs))), list(regs)
    for i in range(extra):
        size = int(rng.integers(1, max_genes + 1))
        picked = {
            int(rng.choice(regs if rng.random() < share_regulators else others))
            for _ in range(size)
        }
        rows += [len(regs) + i] * len(picked)
        cols += sorted(picked)
    shape = (len(regs) + extra, kb.n_genes)
    return sp.csr_matrix((-np.ones(len(rows)), (rows, cols)), shape=shape)


def _edges(kb: KnowledgeBase) -> set[tuple[str, str, int]]:
    table = kb.edges()
    table = table[table["regulator"] != table["target"]]
    return set(zip(table["regulator"], table["target"], table["sign"].astype(int), strict=True))


def noise_case(
    true_kb: KnowledgeBase,
    X: sp.csr_matrix,
    Y: np.ndarray,
    *,
    noise: float,
    seed: int,
    k: int,
    options: Mapping[str, Any],
) -> dict[str, float | int | str]:
    """Corrupt `true_kb` at `noise` with `seed`, refine on (X, Y) and score against the truth.

    `supported_edges` counts the refined edges with positive support in the data
    (`RefineResult.edges`), `supported_precision` the share of them in the truth.
    """
    noisy = corrupt(true_kb, noise, seed)
    result = refine(noisy, X, Y, k=k, seed=seed, **options)
    truth, before, after = _edges(true_kb), _edges(noisy), _edges(result.kb)
    direct = interaction_scores(result.kb, true_kb)
    table = result.edges
    chosen = table[
        (table["status"] != "removed")
        & (table["regulator"] != table["target"])
        & (table["support"] > 0)
    ]
    supported = set(zip(chosen["regulator"], chosen["target"], chosen["sign"], strict=True))
    return {
        "noise": float(noise),
        "seed": int(seed),
        "penalty": str(options.get("penalty", "l1")),
        "direct_f1_before": interaction_scores(noisy, true_kb)["f1"],
        "direct_f1": direct["f1"],
        "direct_precision": direct["precision"],
        "direct_recall": direct["recall"],
        "supported_edges": len(supported),
        "supported_precision": len(supported & truth) / len(supported) if supported else 1.0,
        "closure_f1_before": closure_f1(noisy, true_kb, k),
        "closure_f1": closure_f1(result.kb, true_kb, k),
        "edges_added": len(after - before),
        "edges_removed": len(before - after),
        "added_true": len((after - before) & truth),
        "removed_false": len((before - after) - truth),
        "iterations": int(result.iterations),
        "seconds": float(result.seconds),
    }


def noise_sweep(
    true_kb: KnowledgeBase,
    *,
    noise_levels: Iterable[float],
    seeds: Iterable[int],
    penalties: Iterable[str],
    k: int,
    variant: str,
    inputs: Mapping[str, Any],
    options: Mapping[str, Any],
) -> pd.DataFrame:
    """Every (noise, seed, penalty) case of section 4.2, one row each (`BENCHMARK_COLUMNS`).

    The inputs are drawn once (seed `inputs["seed"]`); the seed of a row draws its
    corruption. The data are the true GRN's deduction with the closure `variant`.
    """
    X = knockout_inputs(true_kb, **inputs)
    Y = deduce(true_kb, X, k, variant)
    cases = [(p, s, penalty) for p in noise_levels for s in seeds for penalty in penalties]
    rows = []
    for i, (p, s, penalty) in enumerate(cases, start=1):
        row = noise_case(
            true_kb, X, Y, noise=p, seed=s, k=k, options={**options, "penalty": penalty}
        )
        log.info(
            "case %d/%d: noise %.2f, seed %d, %s: direct F1 %.4f -> %.4f in %.1f s",
            i,
            len(cases),
            p,
            s,
            penalty,
            row["direct_f1_before"],
            row["direct_f1"],
            row["seconds"],
        )
        rows.append(row)
    if not rows:
        raise InputError("the refinement benchmark has no case: noise, seeds or penalties is empty")
    return pd.DataFrame(rows, columns=list(BENCHMARK_COLUMNS))


def summarise_sweep(table: pd.DataFrame) -> pd.DataFrame:
    """Mean and sd over seeds per (penalty, noise) of every score in a `noise_sweep` table."""
    scores = [c for c in BENCHMARK_COLUMNS if c not in ("noise", "seed", "penalty")]
    grouped = table.groupby(["penalty", "noise"], sort=True)[scores]
    out = grouped.mean().add_suffix("_mean").join(grouped.std(ddof=1).add_suffix("_sd"))
    out["n_seeds"] = grouped.size()
    return out.reset_index()
