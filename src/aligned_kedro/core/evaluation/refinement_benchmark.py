"""Synthetic refinement benchmark of section 4.2: recover a known GRN from its own deductions.

The true GRN gives the data: Ȳ = δ_KB(x) (section 2.2) for one-hot knockouts of every
regulator plus a few random multi-gene knockouts. Refinement (Eq. 6) starts from a copy
corrupted by `corrupt` (equal numbers of edges removed and added) and is scored against
the truth on direct interactions and on the closure (indirect interactions, Eq. 1).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from aligned_kedro.core._checks import (
    check_non_negative_int,
    check_positive_int,
    check_probability,
)
from aligned_kedro.core.errors import InputError
from aligned_kedro.core.knowledge.deduction import deduce, iter_closure_blocks
from aligned_kedro.core.knowledge.kb import KnowledgeBase, compile_kb
from aligned_kedro.core.knowledge.refinement import RefineOptions, refine

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
    check_non_negative_int(extra, "extra")
    check_positive_int(max_genes, "max_genes")
    check_probability(share_regulators, "share_regulators")
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
    options: RefineOptions,
) -> dict[str, float | int | str]:
    """Corrupt `true_kb` at `noise` with `seed`, refine on (X, Y) and score against the truth.

    `supported_edges` counts the refined edges with positive support in the data
    (`RefineResult.edges`), `supported_precision` the share of them in the truth.
    """
    noisy = corrupt(true_kb, noise, seed)
    result = refine(noisy, X, Y, options, k=k, seed=seed)
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
        "penalty": options.penalty,
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
    options: RefineOptions,
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
            true_kb, X, Y, noise=p, seed=s, k=k, options=replace(options, penalty=penalty)
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


def _signed_codes(kb: KnowledgeBase, index: dict[str, int], n: int) -> np.ndarray:
    """Off-diagonal signed edges as integer codes in the gene order of `index`."""
    codes = np.array([index.get(g, -1) for g in kb.genes], dtype=np.int64)
    out = []
    for matrix, sign in ((kb.r_pos, 0), (kb.r_neg, 1)):
        coo = matrix.tocoo()
        keep = coo.row != coo.col
        reg, tgt = codes[coo.row[keep]], codes[coo.col[keep]]
        if (reg < 0).any() or (tgt < 0).any():
            raise InputError("the predicted knowledge base has genes outside the true genes")
        out.append((reg * n + tgt) * 2 + sign)
    return np.concatenate(out)


def _f1(tp: int, fp: int, fn: int) -> float:
    return 2.0 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0


def interaction_scores(predicted_kb: KnowledgeBase, true_kb: KnowledgeBase) -> dict[str, float]:
    """Precision, recall and F1 of signed direct interactions: off-diagonal entries of
    R+(0), R-(0) (section 4.2). A pair with the wrong sign is one false positive and one
    false negative.
    """
    n = true_kb.n_genes
    pred = _signed_codes(predicted_kb, true_kb.index, n)
    true = _signed_codes(true_kb, true_kb.index, n)
    tp = len(np.intersect1d(pred, true, assume_unique=True))
    return {
        "precision": tp / len(pred) if len(pred) else 1.0,
        "recall": tp / len(true) if len(true) else 1.0,
        "f1": _f1(tp, len(pred) - tp, len(true) - tp),
    }


def interaction_f1(predicted_kb: KnowledgeBase, true_kb: KnowledgeBase) -> float:
    """F1 of signed direct interactions (section 4.2); see `interaction_scores`."""
    return interaction_scores(predicted_kb, true_kb)["f1"]


def _closure_pairs(
    predicted_kb: KnowledgeBase, true_kb: KnowledgeBase, k: int, variant: str
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    to_pred = np.array([predicted_kb.index[g] for g in true_kb.genes], dtype=np.intp)
    to_true = np.array([true_kb.index[g] for g in predicted_kb.genes], dtype=np.intp)
    rows = np.union1d(true_kb.regulators, to_true[predicted_kb.regulators])
    true_blocks = iter_closure_blocks(true_kb, rows, k, variant)
    pred_blocks = iter_closure_blocks(predicted_kb, to_pred[rows], k, variant)
    for (block, t_pos, t_neg), (_, p_pos, p_neg) in zip(true_blocks, pred_blocks, strict=True):
        true_sign = np.sign(t_pos - t_neg)
        pred_sign = np.sign(p_pos - p_neg)[:, to_pred]
        own = np.arange(len(block))
        true_sign[own, block] = 0
        pred_sign[own, block] = 0
        yield true_sign, pred_sign


def closure_f1(
    predicted_kb: KnowledgeBase,
    true_kb: KnowledgeBase,
    k: int,
    variant: Literal["integer", "boolean"] = "integer",
) -> float:
    """F1 of indirect interactions: the nonzero signs of R+(k) - R-(k) off the diagonal (Eq. 1).

    Only rows of genes that regulate something in either KB can differ from the identity
    row, so only those closure rows are computed, in blocks; nothing n x n is built.
    """
    if set(predicted_kb.genes) != set(true_kb.genes):
        raise InputError("the predicted and true knowledge bases have different genes")
    tp = fp = fn = 0
    for true_sign, pred_sign in _closure_pairs(predicted_kb, true_kb, k, variant):
        hit = int(np.count_nonzero((true_sign == pred_sign) & (true_sign != 0)))
        tp += hit
        fp += int(np.count_nonzero(pred_sign)) - hit
        fn += int(np.count_nonzero(true_sign)) - hit
    return _f1(tp, fp, fn)


def corrupt(kb: KnowledgeBase, noise: float, seed: int) -> KnowledgeBase:
    """Noisy KB of section 4.2: remove round(noise·|E|) edges and add as many at random.

    E is the set of off-diagonal signed edges (self-edges are left alone). Added pairs are
    drawn uniformly from ALL absent pairs (a regulator of the KB, any other gene as target,
    the pair absent in both signs) by rejection sampling, each inhibitory with the share
    of inhibitory edges in E.
    """
    check_probability(noise, "noise")
    rng = np.random.default_rng(seed)
    n = kb.n_genes
    table = kb.edges()
    reg = table["regulator"].map(kb.index).to_numpy(np.int64)
    tgt = table["target"].map(kb.index).to_numpy(np.int64)
    sign = table["sign"].to_numpy(np.int64)
    off = np.flatnonzero(reg != tgt)
    n_change = int(round(noise * len(off)))
    regulators = kb.regulators.astype(np.int64)
    present = set((reg[off] * n + tgt[off]).tolist())
    n_absent = len(regulators) * (n - 1) - len(present)
    if n_change > n_absent:
        raise InputError(
            f"cannot add {n_change} edges: only {n_absent} regulator-target pairs are absent"
        )
    keep = np.ones(len(table), dtype=bool)
    keep[rng.choice(off, size=n_change, replace=False)] = False
    inhibitory = float((sign[off] == -1).mean()) if len(off) else 0.0
    added: dict[int, None] = {}
    while len(added) < n_change:
        size = 2 * (n_change - len(added)) + 16
        draws = regulators[rng.integers(0, len(regulators), size=size)] * n + rng.integers(
            0, n, size=size
        )
        for code in draws.tolist():
            if code // n != code % n and code not in present and code not in added:
                added[code] = None
                if len(added) == n_change:
                    break
    codes = np.fromiter(added, dtype=np.int64, count=len(added))
    names = np.asarray(kb.genes, dtype=object)
    new_edges = pd.DataFrame(
        {
            "regulator": names[codes // n],
            "target": names[codes % n],
            "sign": np.where(rng.random(len(codes)) < inhibitory, -1, 1).astype(np.int64),
        }
    )
    edges = pd.concat([table.loc[keep, ["regulator", "target", "sign"]], new_edges])
    return compile_kb(edges.reset_index(drop=True), kb.genes, conflict="both", source="corrupt")
