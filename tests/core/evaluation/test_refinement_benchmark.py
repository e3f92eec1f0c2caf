"""The section 4.2 benchmark: inputs, corruption, scores against a known truth, the summary."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aligned_kedro.core.errors import InputError
from aligned_kedro.core.evaluation.refinement_benchmark import (
    BENCHMARK_COLUMNS,
    closure_f1,
    corrupt,
    interaction_f1,
    interaction_scores,
    knockout_inputs,
    noise_case,
    noise_sweep,
    summarise_sweep,
)
from aligned_kedro.core.knowledge.deduction import closure, deduce
from aligned_kedro.core.knowledge.kb import compile_kb
from aligned_kedro.core.knowledge.refinement import RefineOptions

K = 3
INPUTS = {"extra": 4, "max_genes": 2, "share_regulators": 1.0, "seed": 0}


def layered_grn(seed: int = 0, n: int = 30, n_regulators: int = 6, per_regulator: int = 4):
    rng = np.random.default_rng(seed)
    genes = [f"g{i:02d}" for i in range(n)]
    rows = [
        (genes[reg], genes[target], -1 if rng.random() < 1 / 3 else 1)
        for reg in range(n_regulators)
        for target in rng.choice(np.arange(reg + 1, n), size=per_regulator, replace=False)
    ]
    return compile_kb(pd.DataFrame(rows, columns=["regulator", "target", "sign"]), genes)


def test_knockout_inputs_one_per_regulator_then_seeded_extras():
    kb = layered_grn()
    X = knockout_inputs(kb, **INPUTS).toarray()
    regs = kb.regulators
    assert X.shape == (len(regs) + 4, kb.n_genes)
    assert np.array_equal(X[np.arange(len(regs)), regs], -np.ones(len(regs)))
    assert (np.count_nonzero(X[: len(regs)], axis=1) == 1).all()
    extra = np.count_nonzero(X[len(regs) :], axis=1)
    assert ((extra >= 1) & (extra <= 2)).all()
    assert set(np.flatnonzero(X[len(regs) :].any(axis=0))) <= set(regs)
    assert np.array_equal(X, knockout_inputs(kb, **INPUTS).toarray())
    with pytest.raises(InputError, match="max_genes"):
        knockout_inputs(kb, extra=1, max_genes=0, share_regulators=1.0, seed=0)


def test_noise_case_scores_against_the_truth():
    true = layered_grn()
    X = knockout_inputs(true, **INPUTS)
    Y = deduce(true, X, K)
    row = noise_case(true, X, Y, noise=0.25, seed=3, k=K, options=RefineOptions())
    assert set(row) == set(BENCHMARK_COLUMNS)
    assert row["direct_f1_before"] == pytest.approx(interaction_f1(corrupt(true, 0.25, 3), true))
    assert row["added_true"] <= row["edges_added"]
    assert row["removed_false"] <= row["edges_removed"]
    assert row["direct_f1"] > row["direct_f1_before"]
    p, r = row["direct_precision"], row["direct_recall"]
    assert row["direct_f1"] == pytest.approx(2 * p * r / (p + r))
    assert 0 < row["supported_edges"] <= len(true.edges())
    assert row["supported_precision"] >= p


def test_noise_free_truth_is_kept():
    true = layered_grn(1)
    table = noise_sweep(
        true,
        noise_levels=[0.0],
        seeds=[0, 1],
        penalties=["l1", "frobenius"],
        k=K,
        variant="integer",
        inputs=INPUTS,
        options=RefineOptions(),
    )
    assert list(table.columns) == list(BENCHMARK_COLUMNS)
    assert len(table) == 4
    assert (table["direct_f1"] == 1.0).all()
    assert (table[["edges_added", "edges_removed"]] == 0).all().all()


def test_empty_sweep_is_an_error():
    with pytest.raises(InputError, match="no case"):
        noise_sweep(
            layered_grn(),
            noise_levels=[],
            seeds=[0],
            penalties=["l1"],
            k=K,
            variant="integer",
            inputs=INPUTS,
            options=RefineOptions(),
        )


def test_summary_mean_and_sd_per_penalty_and_noise():
    rows = [
        {c: 0.0 for c in BENCHMARK_COLUMNS} | {"noise": n, "seed": s, "penalty": p, "direct_f1": f}
        for n, s, p, f in [
            (0.1, 0, "l1", 0.8),
            (0.1, 1, "l1", 0.6),
            (0.1, 0, "frobenius", 0.5),
            (0.3, 0, "l1", 0.4),
        ]
    ]
    summary = summarise_sweep(pd.DataFrame(rows)).set_index(["penalty", "noise"])
    assert summary.loc[("l1", 0.1), "direct_f1_mean"] == pytest.approx(0.7)
    assert summary.loc[("l1", 0.1), "direct_f1_sd"] == pytest.approx(np.std([0.8, 0.6], ddof=1))
    assert summary.loc[("l1", 0.1), "n_seeds"] == 2
    assert np.isnan(summary.loc[("frobenius", 0.1), "direct_f1_sd"])


def edge_set(kb) -> set[tuple[str, str, int]]:
    table = kb.edges()
    return set(zip(table["regulator"], table["target"], table["sign"], strict=True))


def test_interaction_f1_hand_case():
    genes = ["a", "b", "c", "d"]
    true = compile_kb(
        pd.DataFrame({"regulator": ["a", "a", "b"], "target": ["b", "c", "d"], "sign": [1, -1, 1]}),
        genes,
    )
    pred = compile_kb(
        pd.DataFrame(
            {
                "regulator": ["a", "a", "c", "d"],
                "target": ["b", "c", "d", "d"],
                "sign": [1, 1, 1, -1],
            }
        ),
        genes,
    )
    # tp = a->b; fp = a->c(+), c->d; fn = a->c(-), b->d; the self-edge is ignored
    assert interaction_f1(pred, true) == pytest.approx(2 / (2 + 2 + 2))
    assert interaction_scores(pred, true) == pytest.approx(
        {"precision": 1 / 3, "recall": 1 / 3, "f1": 1 / 3}
    )
    assert interaction_f1(true, true) == 1.0


def test_closure_f1_matches_dense_closure():
    true = layered_grn(4, n=15, n_regulators=5, per_regulator=3)
    noisy = corrupt(true, 0.4, 2)

    def signs(kb):
        p, q = closure(kb, 3, dense_threshold=0.0)
        s = np.sign(np.asarray(p) - np.asarray(q))
        np.fill_diagonal(s, 0)
        return s

    t, p = signs(true), signs(noisy)
    tp = int(((t == p) & (t != 0)).sum())
    expected = 2 * tp / (2 * tp + (np.count_nonzero(p) - tp) + (np.count_nonzero(t) - tp))
    assert closure_f1(noisy, true, 3) == pytest.approx(expected)
    assert closure_f1(true, true, 3) == 1.0


def test_corrupt_counts_and_constraints():
    true = layered_grn(5, n=60, n_regulators=10, per_regulator=6)
    noisy = corrupt(true, 0.25, 7)
    t, c = edge_set(true), edge_set(noisy)
    n_change = round(0.25 * len(t))
    assert len(t - c) == n_change
    assert len(c - t) == n_change
    regulators = {true.genes[i] for i in true.regulators}
    true_pairs = {(a, b) for a, b, _ in t}
    for reg, tgt, _ in c - t:
        assert reg in regulators and reg != tgt and (reg, tgt) not in true_pairs
    assert corrupt(true, 0.25, 7).edges().equals(noisy.edges())
    assert edge_set(corrupt(true, 0.0, 7)) == t


def test_corrupt_samples_absent_pairs_uniformly():
    n, n_reg = 400, 40
    genes = [f"g{i:03d}" for i in range(n)]
    rng = np.random.default_rng(0)
    rows = [
        (genes[r], genes[(r + 1 + j) % n], 1 if rng.random() < 0.7 else -1)
        for r in range(n_reg)
        for j in range(10)
    ]
    kb = compile_kb(pd.DataFrame(rows, columns=["regulator", "target", "sign"]), genes)
    noisy = corrupt(kb, 0.5, 3)
    added = pd.DataFrame(sorted(edge_set(noisy) - edge_set(kb)), columns=["r", "t", "s"])
    targets = added["t"].str[1:].astype(int)
    regs = added["r"].str[1:].astype(int)
    assert len(added) == 200
    assert (targets < n // 10).mean() < 0.25
    assert 0.35 < targets.mean() / n < 0.65
    assert regs.nunique() > n_reg // 2
    assert (regs < n_reg // 4).mean() < 0.5
    share = (added["s"] == -1).mean()
    assert 0.15 < share < 0.5


def test_corrupt_noise_is_a_share():
    with pytest.raises(InputError, match="noise"):
        corrupt(layered_grn(), 1.5, 0)
