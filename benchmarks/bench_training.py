"""Benchmark of stage A (Eq. 5: f_y + adaptor trained jointly).

Run `python benchmarks/bench_training.py` (every case, each in a fresh process so that
peak RSS is per case) or `--case training_gnn` for one. Cases: `training_mlp` and
`training_gnn` on a synthetic E. coli-shaped case (3,923 genes, 211 regulators, ~8,300
signed edges, 25 labelled knockouts, 190 unlabelled one-hot inputs);
`training_gnn_norman_per_cell` on a Norman-scale one with per-cell labels (5,000 genes,
1,200 regulators, 45,000 edges, 200 knockouts x 50 cells = 10,000 labelled rows, 1,200
unlabelled inputs), run for 20 epochs and extrapolated to 150 (`train_s_at_150_epochs`);
its targets (issue 20): at most 2 s per epoch and 2.5 GB peak RSS (`within_target`).
Options: `--epochs N` overrides the epochs, `--threads N` sets TrainConfig.num_threads
and `--data real` uses the project's latest data/03_primary outputs (after `kedro run`).
Stage A has no naive counterpart to compare with. Prints one `BENCH <case> ...` line per
case.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from harness import synthetic_grn, with_device

from aligned_kedro.core.knowledge.deduction import deduce
from aligned_kedro.core.knowledge.kb import KnowledgeBase, compile_kb
from aligned_kedro.core.learning.adaptor import weight_vector
from aligned_kedro.core.learning.models import ModelConfig, kb_edge_index
from aligned_kedro.core.learning.training import TrainConfig, predict, train

SEED = 20260101
ROOT = Path(__file__).resolve().parents[1]
K = 4
TARGET_EPOCH_S = 2.0
TARGET_PEAK_MB = 2_500


@dataclass(frozen=True)
class Shape:
    """A synthetic case: GRN size, labelled conditions x rows per condition, unlabelled
    one-hot inputs and the epochs run when `--epochs` is not given (None: TrainConfig's)."""

    n_genes: int
    n_regulators: int
    n_edges: int
    conditions: int
    rows_per_condition: int
    unlabelled: int
    epochs: int | None = None


ECOLI = Shape(3_923, 211, 8_300, 25, 1, 190)
NORMAN_PER_CELL = Shape(5_000, 1_200, 45_000, 200, 50, 1_200, epochs=20)
CASES = {
    "training_mlp": ("mlp", ECOLI),
    "training_gnn": ("gnn", ECOLI),
    "training_gnn_norman_per_cell": ("gnn", NORMAN_PER_CELL),
}


def synthetic_data(shape: Shape) -> dict[str, object]:
    """Labels from a noisy deduction of the GRN (k = 2); δ from the GRN at k = 4. Each
    labelled knockout is repeated `rows_per_condition` times (per-cell labels), each row
    with its own label noise; X_u holds one-hot knockouts of other regulators."""
    rng = np.random.default_rng(SEED)
    edges, genes = synthetic_grn(shape.n_genes, shape.n_regulators, shape.n_edges, 0.13, rng)
    kb = compile_kb(edges, genes)
    regulators = rng.permutation(kb.regulators)
    labelled = np.repeat(regulators[: shape.conditions], shape.rows_per_condition)
    X_l = np.zeros((len(labelled), shape.n_genes), dtype=np.int8)
    X_l[np.arange(len(labelled)), labelled] = -1
    X_u = np.zeros((shape.unlabelled, shape.n_genes), dtype=np.int8)
    X_u[np.arange(shape.unlabelled), regulators[-shape.unlabelled :]] = -1
    Y_l = deduce(kb, X_l, 2)
    flip = rng.random(Y_l.shape) < 0.02
    Y_l[flip] = rng.integers(-1, 2, size=int(flip.sum()))
    return {"kb": kb, "X_l": X_l, "Y_l": Y_l, "X_u": X_u, "source": "synthetic"}


def _latest(name: str) -> pd.DataFrame:
    folder = ROOT / "data" / "03_primary" / f"{name}.parquet"
    versions = sorted(p for p in folder.iterdir() if (p / f"{name}.parquet").exists())
    if not versions:
        raise FileNotFoundError(f"no version of {folder}; run `kedro run` first")
    return pd.read_parquet(versions[-1] / f"{name}.parquet")


def real_data() -> dict[str, object]:
    """The project's latest primary outputs (labels, inputs, KB deductions, KB)."""
    universe = _latest("universe")
    genes = universe["gene_id"].astype(str).tolist()
    kb = compile_kb(_latest("knowledge_base"), genes, conflict="both")
    frames = {
        name: _latest(name).reindex(columns=genes, fill_value=0)
        for name in (
            "labels",
            "perturbations",
            "kb_predictions",
            "unlabelled",
            "kb_unlabelled_predictions",
        )
    }
    return {
        "kb": kb,
        "X_l": frames["perturbations"].to_numpy(),
        "Y_l": frames["labels"].to_numpy(),
        "X_u": frames["unlabelled"].to_numpy(),
        "kb_l": frames["kb_predictions"].to_numpy(),
        "kb_u": frames["kb_unlabelled_predictions"].to_numpy(),
        "source": "real",
    }


def kb_degree(kb: KnowledgeBase) -> np.ndarray:
    """In- plus out-degree in R+(0) + R-(0), without the diagonal."""
    adjacency = (kb.r_pos + kb.r_neg).tocsr()
    adjacency.setdiag(0)
    adjacency.eliminate_zeros()
    return np.asarray(adjacency.sum(0)).ravel() + np.asarray(adjacency.sum(1)).ravel()


def run_case(
    name: str, data: str, epochs: int | None, threads: int | None, device: str = "auto"
) -> dict[str, object]:
    """Train one model type with the adaptor and return its measurements."""
    start = time.perf_counter()
    model_type, shape = CASES[name]
    d = real_data() if data == "real" else synthetic_data(shape)
    kb: KnowledgeBase = d["kb"]  # type: ignore[assignment]
    X_l, Y_l, X_u = d["X_l"], d["Y_l"], d["X_u"]
    kb_l = d.get("kb_l")
    kb_u = d.get("kb_u")
    if kb_l is None:
        kb_l, kb_u = deduce(kb, X_l, K), deduce(kb, X_u, K)
    w = weight_vector(X_l, Y_l, kb_l, kb_degree(kb), None)
    model_config = ModelConfig(model_type, kb.n_genes, seed=SEED % 1000)
    train_config = TrainConfig(seed=SEED % 1000, device=device)
    epochs = epochs if epochs is not None else shape.epochs
    if epochs is not None:
        train_config.epochs = epochs
    if threads is not None:
        train_config.num_threads = threads
    prepared = time.perf_counter()
    trained = train(
        X_l,
        Y_l,
        kb_l,
        X_u,
        kb_u,
        w,
        model_config,
        train_config,
        edge_index=kb_edge_index(kb.r_pos, kb.r_neg),
    )
    train_s = time.perf_counter() - prepared
    out = predict(trained, X_u, kb_u)
    return {
        "case": name,
        "device": str(next(trained.model.parameters()).device),
        "data": d["source"],
        "n_genes": kb.n_genes,
        "n_labelled": len(X_l),
        "n_unlabelled": len(X_u),
        "epochs": train_config.epochs,
        "threads": train_config.num_threads or torch.get_num_threads(),
        "epoch_s": float(np.median(trained.history["epoch_s"])),
        "train_s_150": float(np.median(trained.history["epoch_s"])) * 150,
        "train_s": train_s,
        "kb_usage": float(out["a"].mean()),
        "total_s": time.perf_counter() - start,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20
        if torch.cuda.is_available()
        else 0,
    }


def format_line(r: dict[str, object]) -> str:
    line = (
        f"BENCH {r['case']} data={r['data']} n_genes={r['n_genes']} "
        f"n_labelled={r['n_labelled']} n_unlabelled={r['n_unlabelled']} epochs={r['epochs']} "
        f"threads={r['threads']} "
        f"epoch_s={r['epoch_s']:.4f} train_s={r['train_s']:.2f} "
        f"train_s_at_150_epochs={r['train_s_150']:.0f} kb_usage={r['kb_usage']:.3f} "
        f"total_s={r['total_s']:.2f} peak_rss_mb={r['peak_rss_mb']:.0f} "
        f"peak_gpu_mb={r['peak_gpu_mb']:.0f}"
    )
    if r["case"] == "training_gnn_norman_per_cell":
        ok = r["epoch_s"] <= TARGET_EPOCH_S and r["peak_rss_mb"] <= TARGET_PEAK_MB
        line += (
            f" target=epoch_s<={TARGET_EPOCH_S},peak_rss_mb<={TARGET_PEAK_MB} within_target={ok}"
        )
    return with_device(line, r["device"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--case", choices=sorted(CASES), help="run one case in this process")
    parser.add_argument("--data", choices=("synthetic", "real"), default="synthetic")
    parser.add_argument("--epochs", type=int, default=None, help="default: TrainConfig's")
    parser.add_argument(
        "--threads", type=int, default=None, help="TrainConfig.num_threads (default: its own)"
    )
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    args = parser.parse_args(argv)
    if args.case:
        print(
            format_line(run_case(args.case, args.data, args.epochs, args.threads, args.device)),
            flush=True,
        )
        return 0
    status = 0
    for name in CASES:
        command = [sys.executable, str(Path(__file__).resolve()), "--case", name]
        command += ["--data", args.data]
        command += ["--device", args.device]
        for flag in ("epochs", "threads"):
            if getattr(args, flag) is not None:
                command += [f"--{flag}", str(getattr(args, flag))]
        returncode = subprocess.run(command, check=False).returncode
        status = status or returncode
    return status


if __name__ == "__main__":
    sys.exit(main())
