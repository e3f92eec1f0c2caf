"""The synthetic Norman-like screen of `benchmarks/bench_pipeline.py`, at a small size."""

import sys
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from bench_pipeline import ScreenShape, synthetic_screen  # noqa: E402

SMALL = ScreenShape(
    n_cells=3_000,
    n_genes=300,
    n_latent=30,
    n_singles=8,
    n_doubles=6,
    n_control=600,
    n_edges=1_500,
    n_regulators=40,
    n_gem_groups=2,
)


def test_the_screen_is_seeded_sparse_counts_in_gears_convention_with_its_kb():
    adata, kb = synthetic_screen(SMALL, seed=3)
    again, kb_again = synthetic_screen(SMALL, seed=3)
    assert isinstance(adata.X, sp.csr_matrix) and adata.X.dtype == np.float32
    assert (adata.X != again.X).nnz == 0 and kb.equals(kb_again)
    assert adata.shape == (SMALL.n_cells, SMALL.n_genes)
    assert np.array_equal(adata.X.data, np.round(adata.X.data)) and adata.X.data.min() > 0
    conditions = adata.obs["condition"].astype(str)
    assert conditions.nunique() == 1 + SMALL.n_singles + SMALL.n_doubles
    assert conditions.eq("ctrl").sum() == SMALL.n_control
    assert conditions[conditions.ne("ctrl")].str.count(r"\+").eq(1).all()
    assert len(kb) == SMALL.n_edges and set(kb["weight"]) <= {-1, 1}
    assert list(kb.columns) == ["source", "target", "weight"]


def test_a_perturbation_raises_its_gene_and_moves_its_kb_targets_the_kb_way():
    adata, kb = synthetic_screen(SMALL, seed=0)
    X = adata.X.toarray()
    X = X / X.sum(axis=1, keepdims=True)
    names = adata.var["gene_name"].tolist()
    conditions = adata.obs["condition"].astype(str).to_numpy()
    control = X[conditions == "ctrl"].mean(axis=0)
    agree, moved = 0, 0
    for condition in sorted(set(conditions) - {"ctrl"}):
        if not condition.endswith("+ctrl"):
            continue
        gene = condition.split("+")[0]
        mean = X[conditions == condition].mean(axis=0)
        assert mean[names.index(gene)] > 2 * control[names.index(gene)]
        targets = kb[kb["source"].eq(gene) & kb["target"].isin(names)]
        for target, sign in zip(targets["target"], targets["weight"], strict=True):
            column = names.index(target)
            change = np.log2((mean[column] + 1e-6) / (control[column] + 1e-6))
            if abs(change) > 0.5:
                moved += 1
                agree += int(np.sign(change) == sign)
    assert moved > 20 and agree / moved > 0.75
