"""Benchmark of stage A (Eq. 5: f_y + adaptor trained jointly).

Run `python benchmarks/bench_training.py` (every case, each in a fresh process so that
peak RSS is per case) or `--case training_gnn` for one. Cases: `training_mlp` and
`training_gnn` on a synthetic E. coli-shaped case (3,923 genes, 211 regulators, ~8,300
signed edges, 25 labelled knockouts, 190 unlabelled one-hot inputs);
`training_gnn_norman_per_cell` on a Norman-scale one with per-cell labels (5,000 genes,
1,200 regulators, 45,000 edges, 200 knockouts x 50 cells = 10,000 labelled rows, 1,200
unlabelled inputs), run for 20 epochs and extrapolated to 150 (`train_s_at_150_epochs`);
its targets (issue 20): at most 2 s per epoch and 2.5 GB peak RSS (`within_target`).
Its naive counterpart, timed in the same run after the peak RSS is read, is one step of
stage A as it was before distinct inputs: every per-cell row through f_y, int64 targets.
`out_of_fold_norman_per_cell` times the balanced prior's out-of-fold f_y (5 folds of
conditions, 150 epochs each) and its routing on the same data; target at most 10 minutes.
Options: `--epochs N` overrides the epochs, `--threads N` sets TrainConfig.num_threads,
`--device` picks the device (default auto: a GPU when present) and `--data real` uses the
project's latest data/03_primary outputs (after `kedro run`). Prints one `BENCH <case> ...`
line per case.
"""

from __future__ import annotations

import argparse
import copy
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from harness import synthetic_grn, with_device

from aligned_kedro.core.knowledge.deduction import deduce
from aligned_kedro.core.knowledge.kb import KnowledgeBase, compile_kb
from aligned_kedro.core.learning.adaptor import (
    balanced_routing,
    gene_rewards,
    normalise_advantages,
    reinforce_loss,
    weight_vector,
)
from aligned_kedro.core.learning.inference import ternary_argmax
from aligned_kedro.core.learning.models import ModelConfig, kb_edge_index, resolve_device
from aligned_kedro.core.learning.training import (
    TrainConfig,
    TrainedModel,
    out_of_fold_predictions,
    predict,
    train,
)

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
    "out_of_fold_norman_per_cell": ("gnn", NORMAN_PER_CELL),
}
FOLDS = 5
TARGET_OUT_OF_FOLD_S = 600


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


def naive_epoch_s(
    trained: TrainedModel,
    X_l: np.ndarray,
    Y_l: np.ndarray,
    kb_l: np.ndarray,
    X_u: np.ndarray,
    kb_u: np.ndarray,
    w: np.ndarray,
) -> float:
    """One full-batch step of Eq. 5 over every row as given, per-cell copies included, with
    int64 targets and KB answers: stage A before distinct inputs and label counts."""
    model = copy.deepcopy(trained.model).train()
    tc = trained.train_config
    device = next(model.parameters()).device
    X = torch.as_tensor(np.vstack([X_l, X_u]), dtype=torch.float32, device=device)
    targets = torch.as_tensor(Y_l.astype(np.int64) + 1, device=device)
    kb = torch.as_tensor(np.vstack([kb_l, kb_u]).astype(np.int64), device=device)
    w_t = torch.as_tensor(w, dtype=torch.float32, device=device)
    start = time.perf_counter()
    encoding = model.encode(X)
    labelled = torch.arange(len(X), device=device) < len(X_l)
    logits = model.classify(encoding.rows(labelled)).transpose(1, 2)
    ce = F.cross_entropy(logits, targets)
    with torch.no_grad():
        unlabelled = model.classify(encoding.rows(~labelled)).transpose(1, 2)
    y_hat = torch.cat([ternary_argmax(logits.detach()), ternary_argmax(unlabelled)])
    logits_a = model.adapt(encoding, tc.shared_grad_scale)
    a = torch.bernoulli(torch.sigmoid(logits_a.detach()))
    rewards = gene_rewards(a, y_hat, kb, w_t, tc.c_l, tc.c_w, tc.theta_share)
    loss = ce + tc.c * reinforce_loss(logits_a, a, normalise_advantages(rewards))
    loss.backward()
    return time.perf_counter() - start


def out_of_fold_case(shape: Shape, epochs: int | None, device: str) -> dict[str, object]:
    """The balanced prior's cost: f_y trained on FOLDS - 1 folds of conditions (all cells
    of a condition in one fold) and predicting the rest, then the routing of Eq. 3."""
    start = time.perf_counter()
    d = synthetic_data(shape)
    kb: KnowledgeBase = d["kb"]  # type: ignore[assignment]
    X_l, Y_l = d["X_l"], d["Y_l"]
    kb_l = deduce(kb, X_l, K)
    condition = np.repeat(np.arange(shape.conditions), shape.rows_per_condition)
    fold_of = np.random.default_rng(SEED).permutation(shape.conditions) % FOLDS
    folds = [np.flatnonzero(fold_of[condition] == f) for f in range(FOLDS)]
    train_config = TrainConfig(seed=SEED % 1000, device=device)
    if epochs is not None:
        train_config.epochs = epochs
    began = time.perf_counter()
    y_out = out_of_fold_predictions(
        X_l,
        Y_l,
        folds,
        ModelConfig("gnn", kb.n_genes, seed=SEED % 1000),
        train_config,
        edge_index=kb_edge_index(kb.r_pos, kb.r_neg),
    )
    out_of_fold_s = time.perf_counter() - began
    began = time.perf_counter()
    w, score = balanced_routing(Y_l, y_out, kb_l)
    return {
        "case": "out_of_fold_norman_per_cell",
        "device": resolve_device(device).type,
        "n_genes": kb.n_genes,
        "n_labelled": len(X_l),
        "folds": FOLDS,
        "epochs": train_config.epochs,
        "out_of_fold_s": out_of_fold_s,
        "routing_s": time.perf_counter() - began,
        "w_kb_share": float(w.mean()),
        "balanced_f1_train": score,
        "total_s": time.perf_counter() - start,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_case(
    name: str, data: str, epochs: int | None, threads: int | None, device: str = "auto"
) -> dict[str, object]:
    """Train one model type with the adaptor and return its measurements."""
    start = time.perf_counter()
    model_type, shape = CASES[name]
    if name == "out_of_fold_norman_per_cell":
        return out_of_fold_case(shape, epochs, device)
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
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    naive = None
    if shape.rows_per_condition > 1:
        naive = naive_epoch_s(trained, X_l, Y_l, kb_l, X_u, kb_u, w)
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
        "peak_rss_mb": peak,
        "naive_epoch_s": naive,
        "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20
        if torch.cuda.is_available()
        else 0,
    }


def format_line(r: dict[str, object]) -> str:
    if r["case"] == "out_of_fold_norman_per_cell":
        line = (
            f"BENCH {r['case']} n_genes={r['n_genes']} n_labelled={r['n_labelled']} "
            f"folds={r['folds']} epochs={r['epochs']} out_of_fold_s={r['out_of_fold_s']:.1f} "
            f"routing_s={r['routing_s']:.2f} w_kb_share={r['w_kb_share']:.3f} "
            f"balanced_f1_train={r['balanced_f1_train']:.4f} total_s={r['total_s']:.1f} "
            f"peak_rss_mb={r['peak_rss_mb']:.0f} target=out_of_fold_s<={TARGET_OUT_OF_FOLD_S} "
            f"within_target={r['out_of_fold_s'] <= TARGET_OUT_OF_FOLD_S}"
        )
        return with_device(line, r["device"])
    line = (
        f"BENCH {r['case']} data={r['data']} n_genes={r['n_genes']} "
        f"n_labelled={r['n_labelled']} n_unlabelled={r['n_unlabelled']} epochs={r['epochs']} "
        f"threads={r['threads']} "
        f"epoch_s={r['epoch_s']:.4f} train_s={r['train_s']:.2f} "
        f"train_s_at_150_epochs={r['train_s_150']:.0f} kb_usage={r['kb_usage']:.3f} "
        f"total_s={r['total_s']:.2f} peak_rss_mb={r['peak_rss_mb']:.0f} "
        f"peak_gpu_mb={r['peak_gpu_mb']:.0f}"
    )
    if r["naive_epoch_s"] is not None:
        line += (
            f" naive=expanded_per_cell_rows_int64_one_step naive_epoch_s={r['naive_epoch_s']:.2f}"
            f" speedup={r['naive_epoch_s'] / r['epoch_s']:.1f}"
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
