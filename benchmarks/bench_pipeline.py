"""Benchmark of the user's main job: `kedro run --pipeline=aligned` end to end.

Runs the project's CLI in a fresh process inside a throw-away copy of the project (conf,
bundled raw data), so the repository's data/ and mlflow.db are left alone. Two cases:

- `ecoli` (default): the bundled E. coli data, `--params=k:<k>`.
- `norman`: a synthetic Norman-sized per-cell CRISPRa screen (about 90,000 cells x 5,000
  genes, 280 conditions, a 45,000-edge KB) written as a user brings their own data (an
  h5ad of raw counts, a CollecTRI-format KB, `catalog_synth.yml`, `parameters_synth.yml`
  with `labels: per_cell`), run with `--namespaces=synth`. Target (issue 20): < 20 min and
  < 4 GB on 2 cores.

Each prints one `BENCH` line: wall time, peak RSS of the run (the child process), the
slowest nodes' times and the peak RSS while each ran (sampled from /proc), the final
stage's metrics and the device. There is no naive method to compare in the same run: the
reference implementation needs 10-12 h per run on an A100 (paper), which is not
reproducible here, so no ratio is printed.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import device_label, synthetic_grn  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
COPIED = ("pyproject.toml", ".telemetry", "conf", "data/01_raw")
CASES = ("ecoli", "norman")
NODE_LINE = re.compile(r"\[(\d+)/(\d+)\] (\S+)")


@dataclass(frozen=True)
class ScreenShape:
    """Size of the synthetic screen (Norman et al. 2019: 91,205 cells x 5,045 genes,
    105 single and 131 double CRISPRa perturbations, about 11,000 control cells)."""

    n_cells: int = 90_000
    n_genes: int = 5_000
    n_latent: int = 500
    n_singles: int = 110
    n_doubles: int = 170
    n_control: int = 10_000
    n_edges: int = 45_000
    n_regulators: int = 600
    n_gem_groups: int = 8
    median_library: float = 4_000.0


def condition_responses(
    edges: pd.DataFrame, genes: list[str], perturbed: list[tuple[int, ...]], rng
) -> np.ndarray:
    """log2 fold changes (conditions x genes) that follow the signed GRN: ±1.5 on the
    active (70%) out-edges of the perturbed genes, ±0.5 one step further, scaled by a
    per-condition strength; +3 on the perturbed genes themselves (CRISPRa)."""
    index = {g: i for i, g in enumerate(genes)}
    active = rng.random(len(edges)) < 0.7
    rows = edges["regulator"].map(index).to_numpy()[active]
    cols = edges["target"].map(index).to_numpy()[active]
    signed = sp.csr_matrix(
        (edges["sign"].to_numpy()[active].astype(np.float32), (rows, cols)),
        shape=(len(genes), len(genes)),
    )
    x = sp.lil_matrix((len(perturbed), len(genes)), dtype=np.float32)
    for row, members in enumerate(perturbed):
        x[row, list(members)] = 1.0
    x = x.tocsr()
    step1 = x @ signed
    step2 = step1 @ signed
    lfc = 1.5 * np.sign(step1.toarray()) + 0.5 * np.sign(step2.toarray())
    lfc *= rng.uniform(0.4, 1.0, size=(len(perturbed), 1))
    lfc[x.toarray() > 0] = 3.0
    return lfc.astype(np.float32)


def synthetic_screen(shape: ScreenShape, seed: int) -> tuple[object, pd.DataFrame]:
    """A GEARS-convention AnnData of raw counts (CSR float32) and its KB (CollecTRI format:
    source, target, weight). Cells are drawn per condition, Poisson around a log-normal
    library size times a heavy-tailed gene profile times 2^log2FC of the condition."""
    import anndata

    rng = np.random.default_rng(seed)
    edges, genes = synthetic_grn(
        shape.n_genes + shape.n_latent, shape.n_regulators, shape.n_edges, 0.3, rng
    )
    measured = genes[: shape.n_genes]
    regulators = np.flatnonzero(np.isin(genes[: shape.n_genes], edges["regulator"].unique()))
    chosen = rng.choice(regulators, size=min(len(regulators), 120), replace=False)
    singles = [(int(g),) for g in chosen[: shape.n_singles]]
    doubles: set[tuple[int, int]] = set()
    while len(doubles) < shape.n_doubles:
        a, b = sorted(rng.choice(chosen, size=2, replace=False).tolist())
        doubles.add((a, b))
    perturbed = singles + sorted(doubles)
    names = [
        f"{genes[m[0]]}+ctrl" if len(m) == 1 else f"{genes[m[0]]}+{genes[m[1]]}" for m in perturbed
    ]
    lfc = condition_responses(edges, genes, perturbed, rng)[:, : shape.n_genes]
    sizes = rng.multinomial(
        shape.n_cells - shape.n_control, rng.dirichlet(np.full(len(perturbed), 8.0))
    )
    profile = rng.lognormal(0.0, 1.6, size=shape.n_genes)
    profile /= profile.sum()
    blocks, conditions = [], []
    for label, fold, n in [("ctrl", None, shape.n_control), *zip(names, lfc, sizes, strict=True)]:
        for start in range(0, n, 4_000):
            m = min(4_000, n - start)
            library = shape.median_library * rng.lognormal(0.0, 0.45, size=(m, 1))
            mean = profile if fold is None else profile * np.exp2(fold)
            counts = rng.poisson(library * (mean / mean.sum())).astype(np.float32)
            blocks.append(sp.csr_matrix(counts))
            conditions.extend([label] * m)
    X = sp.vstack(blocks, format="csr")
    del blocks
    obs = pd.DataFrame(
        {
            "condition": pd.Categorical(conditions),
            "gem_group": pd.Categorical(rng.integers(1, shape.n_gem_groups + 1, X.shape[0])),
        },
        index=[f"cell{i:06d}" for i in range(X.shape[0])],
    )
    var = pd.DataFrame(
        {"gene_name": measured}, index=[f"ENSG{i:011d}" for i in range(len(measured))]
    )
    adata = anndata.AnnData(X=X, obs=obs, var=var)
    kb = edges.rename(columns={"regulator": "source"}).assign(weight=edges["sign"])
    return adata, kb[["source", "target", "weight"]]


SYNTH_CATALOG = """\
synth.raw_cells:
  type: aligned_kedro.datasets.AnnDataDataset
  filepath: data/01_raw/synth/screen.h5ad
synth.raw_edges:
  type: pandas.CSVDataset
  filepath: data/01_raw/synth/collectri.csv
synth.raw_synonyms:
  type: kedro.io.MemoryDataset
  data: {}
"synth.{name}_metrics":
  type: aligned_kedro.datasets.MetricsDataset
  filepath: data/08_reporting/metrics/synth.{name}.json
  prefix: synth
  versioned: true
"""

SYNTH_PARAMETERS = """\
synth:
  data_processing:
    input: anndata
    cells:
      perturbation_type: CRISPRa
      scale: counts
      replicate_column: gem_group
      labels: per_cell
      per_cell: {{n_cells: 50, threshold: 1.0}}
    edges:
      format: collectri
      unresolved: keep
    split:
      strategy: combo
{training}"""


def write_synth_project(project: Path, shape: ScreenShape, seed: int, epochs: int | None) -> dict:
    """Write the screen, its KB and the BYO-data conf a user would write; return sizes."""
    started = time.perf_counter()
    adata, kb = synthetic_screen(shape, seed)
    raw = project / "data" / "01_raw" / "synth"
    raw.mkdir(parents=True, exist_ok=True)
    adata.write_h5ad(raw / "screen.h5ad")
    kb.to_csv(raw / "collectri.csv", index=False)
    conf = project / "conf" / "base"
    (conf / "catalog_synth.yml").write_text(SYNTH_CATALOG)
    training = "" if epochs is None else f"  training:\n    optimiser: {{epochs: {epochs}}}\n"
    (conf / "parameters_synth.yml").write_text(SYNTH_PARAMETERS.format(training=training))
    parameters = conf / "parameters.yml"
    text = parameters.read_text()
    parameters.write_text(re.sub(r"(?m)^datasets: \[\]", "datasets: [synth]", text))
    X = adata.X
    return {
        "cells": X.shape[0],
        "genes": X.shape[1],
        "conditions": adata.obs["condition"].nunique(),
        "kb_edges": len(kb),
        "density": round(X.nnz / (X.shape[0] * X.shape[1]), 3),
        "median_umi": int(np.median(np.asarray(X.sum(axis=1)).ravel())),
        "h5ad_mb": round((raw / "screen.h5ad").stat().st_size / 2**20),
        "generate_s": round(time.perf_counter() - started, 1),
    }


def project_copy(target: Path) -> Path:
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name)
        elif source.exists():
            shutil.copy(source, target / name)
    (target / "src").mkdir(exist_ok=True)
    return target


def _status_mb(pid: int, field: str = "VmRSS") -> float:
    """A memory field of /proc/<pid>/status in MB: VmRSS (now) or VmHWM (peak so far)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    found = re.search(rf"{field}:\s+(\d+) kB", text)
    return int(found.group(1)) / 1024 if found else 0.0


def run_logged(
    command: list[str], cwd: Path, log: Path | None = None
) -> tuple[int, float, list[tuple[str, float, float, float]], str]:
    """Run `command`; return its status, wall time, per node (name, seconds, peak RSS MB
    sampled while it ran, the process's peak RSS when it ended) from the console's
    ``[i/N] node`` lines, and the log's tail."""
    started = time.perf_counter()
    child = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    nodes: list[list] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.5):
            if nodes:
                nodes[-1][2] = max(nodes[-1][2], _status_mb(child.pid))
                nodes[-1][3] = max(nodes[-1][3], _status_mb(child.pid, "VmHWM"))

    threading.Thread(target=sample, daemon=True).start()
    tail: list[str] = []
    assert child.stdout is not None
    sink = open(log, "w") if log else None  # noqa: SIM115
    for line in child.stdout:
        tail = (tail + [line])[-200:]
        if sink:
            sink.write(f"{time.perf_counter() - started:8.1f} {line}")
            sink.flush()
        found = NODE_LINE.search(line)
        if found:
            now = time.perf_counter() - started
            if nodes:
                nodes[-1][1] = now - nodes[-1][1]
                nodes[-1][3] = max(nodes[-1][3], _status_mb(child.pid, "VmHWM"))
            nodes.append([found.group(3), now, 0.0, 0.0])
    rc = child.wait()
    done.set()
    wall = time.perf_counter() - started
    if nodes:
        nodes[-1][1] = wall - nodes[-1][1]
    if sink:
        sink.write("node seconds rss_max_mb peak_rss_at_end_mb\n")
        sink.writelines(f"{n[0]} {n[1]:.1f} {n[2]:.0f} {n[3]:.0f}\n" for n in nodes)
        sink.close()
    return rc, wall, [tuple(n) for n in nodes], "".join(tail)


def node_fields(nodes: list[tuple[str, float, float, float]], top: int = 10) -> str:
    """The `top` slowest nodes as ``t_<node>=seconds``, the three with the largest RSS
    sampled as ``rss_<node>=MB``, and ``peak_node``, the node during which the process's
    peak RSS was last raised (read from VmHWM, so a peak between samples counts)."""
    slowest = sorted(nodes, key=lambda n: -n[1])[:top]
    times = " ".join(f"t_{name}={seconds:.1f}" for name, seconds, _, _ in slowest)
    heaviest = sorted(nodes, key=lambda n: -n[2])[:3]
    rss = " ".join(f"rss_{name}={mb:.0f}" for name, _, mb, _ in heaviest)
    peak, highest = "none", 0.0
    for name, _, _, hwm in nodes:
        if hwm > highest:
            peak, highest = name, hwm
    return f"{times} {rss} peak_node={peak}"


def summary_fields(project: Path, prefix: str) -> str:
    reports = project / "data" / "08_reporting" / f"{prefix}run_summary.csv"
    summary = pd.read_csv(sorted(reports.glob(f"*/{prefix}run_summary.csv"))[-1])
    final = summary.iloc[-1]
    return (
        f"stages={len(summary)} final_stage={final['stage']} "
        f"final_data_f1={final['data_f1']:.4f} final_kb_f1={final['kb_f1']:.4f} "
        f"final_balanced_f1={final['balanced_f1']:.4f}"
    )


def run_case(
    case: str,
    k: int,
    params: str,
    epochs: int | None,
    seed: int,
    log: Path | None = None,
    keep: Path | None = None,
) -> str:
    if keep is not None:
        keep.mkdir(parents=True)
    place = tempfile.TemporaryDirectory(prefix="bench_pipeline_") if keep is None else None
    with place or contextlib.nullcontext(str(keep)) as tmp:
        project = project_copy(Path(tmp))
        extra = f",{params}" if params else ""
        command = [sys.executable, "-m", "aligned_kedro", "--pipeline=aligned"]
        command.append(f"--params=k:{k}{extra}")
        name, data, prefix = f"aligned_k{k}", "", ""
        if case == "norman":
            sizes = write_synth_project(project, ScreenShape(), seed, epochs)
            command.append("--namespaces=synth")
            name, prefix = f"aligned_norman_synth_k{k}", "synth."
            data = " ".join(f"{key}={value}" for key, value in sizes.items())
            data += f" epochs={'default' if epochs is None else epochs} "
        rc, wall, nodes, tail = run_logged(command, project, log)
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        peak, cpu = usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime
        if rc != 0:
            print(tail[-6000:], file=sys.stderr)
            return f"BENCH {name} status=failed rc={rc} wall_s={wall:.1f} peak_rss_mb={peak:.0f}"
        target = ""
        if case == "norman":
            within = wall < 20 * 60 and peak < 4 * 1024
            target = f"target=wall_s<1200,peak_rss_mb<4096 within_target={within} "
        return (
            f"BENCH {name} command=kedro_run_--pipeline=aligned_--params=k:{k}{extra} {data}"
            f"wall_s={wall:.1f} cpu_s={cpu:.0f} peak_rss_mb={peak:.0f} {target}"
            f"{summary_fields(project, prefix)} "
            f"{node_fields(nodes)} {device_label()} naive=none_reference_10-12h_A100_not_run"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--case", choices=CASES, help="one case (default: each in turn)")
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--params", default="", help="more --params entries, e.g. seed:1")
    parser.add_argument("--epochs", type=int, default=None, help="norman: training epochs")
    parser.add_argument("--seed", type=int, default=0, help="norman: the screen's seed")
    parser.add_argument("--log", type=Path, help="the run's console, timed, to this file")
    parser.add_argument("--keep", type=Path, help="run in this new folder and keep it")
    args = parser.parse_args(argv)
    if args.case is None:
        forwarded = list(argv if argv is not None else sys.argv[1:])
        status = 0
        for case in CASES:
            command = [sys.executable, str(Path(__file__).resolve()), "--case", case, *forwarded]
            status = status or subprocess.run(command, check=False).returncode
        return status
    line = run_case(args.case, args.k, args.params, args.epochs, args.seed, args.log, args.keep)
    print(line, flush=True)
    return 1 if "status=failed" in line else 0


if __name__ == "__main__":
    sys.exit(main())
