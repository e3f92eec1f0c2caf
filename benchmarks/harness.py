"""Shared driver of the benchmarks: each case runs in a fresh process, so peak RSS is per case.

Importing it puts the project's `src/` on the path when `aligned_kedro` is not installed.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

if importlib.util.find_spec("aligned_kedro") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def device_label(device: str | torch.device = "cpu") -> str:
    """``device=... cpus=...`` for a BENCH line: the device that ran the case (a GPU by its
    name) and the CPU cores this process may use."""
    device = torch.device(device)
    name = "cpu"
    if device.type == "cuda":
        name = "cuda_" + torch.cuda.get_device_name(device).replace(" ", "_")
    return f"device={name} cpus={len(os.sched_getaffinity(0))}"


def with_device(line: str, device: str | torch.device = "cpu") -> str:
    """A BENCH line with `device_label`'s fields after the case name, unless it has them."""
    if " device=" in line:
        return line
    head, _, rest = line.partition(" ")
    case, _, fields = rest.partition(" ")
    return " ".join(part for part in (head, case, device_label(device), fields) if part)


def run_cases(
    script: str,
    cases: Mapping[str, Any],
    run_case: Callable[[str], dict],
    format_line: Callable[[dict], str],
    argv: list[str] | None = None,
    description: str | None = None,
) -> int:
    """``--case NAME`` runs one case here; otherwise every (or each ``--cases``) case in turn.
    Each line names the device that ran it: a case's result may say ``device`` (default
    cpu)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--case", choices=sorted(cases), help="run one case in this process")
    parser.add_argument("--cases", help="comma-separated cases, each in a fresh process")
    args = parser.parse_args(argv)
    if args.case:
        result = run_case(args.case)
        print(with_device(format_line(result), result.get("device", "cpu")), flush=True)
        return 0
    names = args.cases.split(",") if args.cases else list(cases)
    unknown = [name for name in names if name not in cases]
    if unknown:
        print(f"unknown case {unknown[0]!r}; known: {sorted(cases)}", file=sys.stderr)
        return 2
    status = 0
    for name in names:
        command = [sys.executable, str(Path(script).resolve()), "--case", name]
        status = status or subprocess.run(command, check=False).returncode
    return status


def synthetic_grn(
    n_genes: int, n_regulators: int, n_edges: int, inhibitory: float, rng: np.random.Generator
) -> tuple[pd.DataFrame, list[str]]:
    """Signed edges (regulator, target, sign) with a heavy-tailed (Zipf-like) out-degree,
    capped at a quarter of the genes, uniform targets and a share `inhibitory` of -1."""
    genes = [f"G{i:05d}" for i in range(n_genes)]
    regulators = rng.choice(n_genes, size=n_regulators, replace=False)
    weights = 1.0 / np.arange(1, n_regulators + 1) ** 0.8
    cap = int(0.25 * n_genes)
    degree = 1 + rng.multinomial(n_edges - n_regulators, weights / weights.sum())
    while (over := np.clip(degree - cap, 0, None)).any():
        degree -= over
        free = weights * (degree < cap)
        degree += rng.multinomial(int(over.sum()), free / free.sum())
    src = np.repeat(regulators, degree)
    tgt = np.concatenate(
        [
            rng.choice(np.delete(np.arange(n_genes), r), size=d, replace=False)
            for r, d in zip(regulators, degree, strict=True)
        ]
    )
    sign = np.where(rng.random(len(src)) < inhibitory, -1, 1)
    names = np.asarray(genes, dtype=object)
    return pd.DataFrame({"regulator": names[src], "target": names[tgt], "sign": sign}), genes
