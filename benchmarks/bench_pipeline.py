"""Benchmark of the user's main job: `kedro run --pipeline=aligned --params=k:4` end to end.

Runs the project's CLI in a fresh process inside a throw-away copy of the project (conf,
bundled raw data), so the repository's data/ and mlflow.db are left alone. Prints one
`BENCH aligned_k<k>` line per case with the wall time, the peak RSS of the run and the
stage metrics of its summary. There is no naive method to compare in the same run: the
reference implementation needs 10-12 h per run on an A100 (paper), which is not
reproducible here, so no ratio is printed.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
COPIED = ("pyproject.toml", ".telemetry", "conf", "data/01_raw")


def project_copy(target: Path) -> Path:
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name)
        elif source.exists():
            shutil.copy(source, target / name)
    (target / "src").mkdir(exist_ok=True)
    return target


def run_case(k: int, params: str) -> str:
    with tempfile.TemporaryDirectory(prefix="bench_pipeline_") as tmp:
        project = project_copy(Path(tmp))
        extra = f",{params}" if params else ""
        command = [sys.executable, "-m", "aligned_kedro", "--pipeline=aligned"]
        command.append(f"--params=k:{k}{extra}")
        started = time.perf_counter()
        done = subprocess.run(command, cwd=project, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        if done.returncode != 0:
            print(done.stderr[-4000:], file=sys.stderr)
            return f"BENCH aligned_k{k} status=failed rc={done.returncode} wall_s={wall:.1f}"
        reports = project / "data" / "08_reporting" / "run_summary.csv"
        summary = pd.read_csv(sorted(reports.glob("*/run_summary.csv"))[-1])
        final = summary.iloc[-1]
        return (
            f"BENCH aligned_k{k} command=kedro_run_--pipeline=aligned_--params=k:{k}{extra} "
            f"wall_s={wall:.1f} peak_rss_mb={peak:.0f} stages={len(summary)} "
            f"final_stage={final['stage']} final_data_f1={final['data_f1']:.4f} "
            f"final_kb_f1={final['kb_f1']:.4f} final_balanced_f1={final['balanced_f1']:.4f} "
            "naive=none_reference_10-12h_A100_not_run"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--params", default="", help="more --params entries, e.g. seed:1")
    args = parser.parse_args(argv)
    line = run_case(args.k, args.params)
    print(line, flush=True)
    return 1 if "status=failed" in line else 0


if __name__ == "__main__":
    sys.exit(main())
