"""Hyper-parameter and ablation sweep of the paper's Tables 2-3, one `kedro run` per variant.

Each variant runs ``python -m aligned_kedro --pipeline=aligned --params=...`` (the project's
own ``kedro run``, which takes ``key:value`` params) in the project directory. Before it
starts, the script creates the variant's MLflow run, tagged ``sweep`` (the sweep's name),
``sweep.variant`` and ``sweep.params``, and hands it to the run through ``MLFLOW_RUN_ID``,
so kedro-mlflow logs into that run. Afterwards it reads every run of the sweep back from
the MLflow store and writes one table comparing the variants: consistency of the
neural-only baseline, of the first alignment ("A", Table 3's "Align 1") and of the last
refinement (Table 3's "Refine 2" with two rounds), as mean and sd over the runs of a variant.

    python scripts/sweep.py --dry-run                  # list the variants and commands
    python scripts/sweep.py                            # run all of them, then summarise
    python scripts/sweep.py --only default k=2 --params training.optimiser.epochs:50
    python scripts/sweep.py --summary-only --sweep sweep-20260101-120000
    python scripts/sweep.py --only default --seeds 0 1 2 3 4 --params data_processing.split.seed:0

Variants run one after another; each is a full `aligned` run (expect minutes each).
The summary goes to data/08_reporting/sweep_<name>.csv.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import pandas as pd

from aligned_kedro.core.evaluation.metrics import aggregate_table
from aligned_kedro.tracking import ensure_experiment

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT = "aligned_kedro"
TRACKING_URI = "sqlite:///mlflow.db"
METRICS = ("data_f1", "kb_f1", "balanced_f1", "kb_usage")
PARAMS = (
    "k",
    "training.adaptor.theta_share",
    "training.adaptor.use_inc",
    "training.adaptor.use_len",
    "training.adaptor.weights",
    "training.adaptor.random_kb",
    "refinement.rounds",
)


@dataclass(frozen=True)
class Variant:
    name: str
    params: dict[str, object] = field(default_factory=dict)
    note: str = ""

    def params_arg(self, extra: str = "") -> str:
        items = [f"{key}:{_yaml(value)}" for key, value in self.params.items()]
        return ",".join([*items, *([extra] if extra else [])])


def _yaml(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


VARIANTS: tuple[Variant, ...] = (
    Variant("default", {}, "k = 4, θ = 0.3|a|, w by balanced routing on the training split"),
    *(Variant(f"k={k}", {"k": k}, "closure depth of Eq. 1") for k in (0, 2, 6)),
    *(
        Variant(f"theta={t}", {"training.adaptor.theta_share": t}, "KB-usage threshold of Eq. 4")
        for t in (0.1, 0.5)
    ),
    Variant("no_inc", {"training.adaptor.use_inc": False}, "Table 2 (ii): without Inc"),
    Variant("no_len", {"training.adaptor.use_len": False}, "Table 2 (iii): without L_len"),
    Variant("w=0.5", {"training.adaptor.weights": "constant"}, "Table 3: w = 0.5"),
    Variant("w=e3", {"training.adaptor.weights": "e3"}, "w of appendix E.3"),
    Variant("w=agreement", {"training.adaptor.weights": "agreement"}, "E.3 term 1 alone"),
    Variant("random_w", {"training.adaptor.weights": "random"}, "Table 2 (iv): random w"),
    Variant("random_kb", {"training.adaptor.random_kb": True}, "Table 2 (i): random GRN"),
)


def command(variant: Variant, extra: str = "") -> list[str]:
    """The run of one variant, through the project's CLI."""
    args = [sys.executable, "-m", "aligned_kedro", "--pipeline=aligned"]
    params = variant.params_arg(extra)
    return args + ([f"--params={params}"] if params else [])


def run_params(params: str, seed: int | None) -> str:
    """The `--params` entries every run gets, with the run's seed last (it wins)."""
    return ",".join(p for p in (params, "" if seed is None else f"seed:{seed}") if p)


def start_run(client: mlflow.MlflowClient, experiment: str, sweep: str, variant: Variant) -> str:
    experiment_id = ensure_experiment(client, experiment)
    run = client.create_run(
        experiment_id,
        run_name=f"{sweep}/{variant.name}",
        tags={"sweep": sweep, "sweep.variant": variant.name, "sweep.params": variant.params_arg()},
    )
    return run.info.run_id


def run_variant(
    client: mlflow.MlflowClient, args: argparse.Namespace, variant: Variant, seed: int | None
) -> tuple[str, int]:
    run_id = start_run(client, args.experiment, args.sweep, variant)
    env = {**os.environ, "MLFLOW_RUN_ID": run_id}
    extra = run_params(args.params, seed)
    print(f"[{variant.name}] run {run_id}: {' '.join(command(variant, extra))}", flush=True)
    started = time.perf_counter()
    code = subprocess.run(command(variant, extra), cwd=args.project, env=env).returncode
    if code != 0 and client.get_run(run_id).info.status == "RUNNING":
        client.set_terminated(run_id, end_status(code))
    print(f"[{variant.name}] exit {code} after {time.perf_counter() - started:.0f} s", flush=True)
    return run_id, code


def end_status(code: int) -> str:
    """The MLflow state of a run whose process exited with `code` and left it RUNNING:
    KILLED for a signal (Ctrl-C, kill), FAILED otherwise."""
    signalled = code < 0 or code in (128 + signal.SIGINT, 128 + signal.SIGTERM)
    return "KILLED" if signalled else "FAILED"


def sweep_table(client: mlflow.MlflowClient, experiment: str, sweep: str) -> pd.DataFrame:
    """One row per variant and stage (neural-only, first alignment, last refinement):
    n runs and mean, sd of each consistency metric over the FINISHED runs of the sweep,
    with the variant's parameters. Runs that FAILED, were KILLED (interrupted, or left
    RUNNING by a process that died) or still run are counted in ``n_unfinished``."""
    found = client.get_experiment_by_name(experiment)
    if found is None:
        raise SystemExit(f"no MLflow experiment {experiment!r} in {client.tracking_uri}")
    runs = client.search_runs([found.experiment_id], filter_string=f"tags.sweep = '{sweep}'")
    if not runs:
        raise SystemExit(f"no run tagged sweep = {sweep!r} in experiment {experiment!r}")
    rows, unfinished = [], {}
    for run in runs:
        variant = run.data.tags.get("sweep.variant", run.info.run_id)
        if run.info.status != "FINISHED":
            unfinished[variant] = unfinished.get(variant, 0) + 1
            continue
        rounds = int(run.data.params.get("refinement.rounds", 2))
        stages = {
            "neural-only": "baseline.neural_only",
            "A (round 1)": "round_1.align",
            f"{'-'.join(['A-R'] * rounds)} (last refine)": f"round_{rounds}.refine",
        }
        for label, stage in stages.items():
            row = {"variant": variant, "stage": label}
            row |= {name: run.data.params.get(name, "") for name in PARAMS}
            row |= {m: run.data.metrics.get(f"{stage}.{m}", float("nan")) for m in METRICS}
            rows.append(row)
    if not rows:
        return pd.DataFrame(
            {"variant": list(unfinished), "n_unfinished": list(unfinished.values())}
        )
    table = pd.DataFrame(rows)
    keys = ["variant", "stage", *PARAMS]
    out = aggregate_table(table, keys, list(METRICS), source=f"sweep {sweep}")
    out = out.rename(columns={"n": "n_runs"})
    out["n_unfinished"] = out["variant"].map(unfinished).fillna(0).astype(int)
    variants = {v.name: i for i, v in enumerate(VARIANTS)}
    position = out["variant"].map(variants).fillna(len(variants))
    stage = out["stage"].map(lambda label: 0 if label == "neural-only" else 1 + ("last" in label))
    order = pd.DataFrame({"stage": stage, "variant": position, "name": out["variant"]})
    return out.loc[order.sort_values(["stage", "variant", "name"]).index].reset_index(drop=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", "--list", action="store_true", help="print, run nothing")
    parser.add_argument("--only", nargs="+", metavar="VARIANT", help="run only these variants")
    parser.add_argument("--params", default="", help="extra key:value,... for every run")
    parser.add_argument(
        "--seeds", nargs="+", type=int, help="run every variant once per seed (mean ± sd over them)"
    )
    parser.add_argument("--sweep", default=time.strftime("sweep-%Y%m%d-%H%M%S"))
    parser.add_argument("--summary-only", action="store_true", help="summarise --sweep only")
    parser.add_argument("--project", type=Path, default=ROOT)
    parser.add_argument("--tracking-uri", default=TRACKING_URI)
    parser.add_argument("--experiment", default=EXPERIMENT)
    parser.add_argument("--out", type=Path, help="summary CSV (default under data/08_reporting)")
    args = parser.parse_args(argv)
    variants = list(VARIANTS)
    if args.only:
        unknown = set(args.only) - {v.name for v in VARIANTS}
        if unknown:
            parser.error(
                f"unknown variants {sorted(unknown)}; choose from {[v.name for v in VARIANTS]}"
            )
        variants = [v for v in VARIANTS if v.name in args.only]
    if args.dry_run:
        for variant in variants:
            print(
                f"{variant.name:12s} {variant.note}\n    {' '.join(command(variant, args.params))}"
            )
        return 0
    uri = args.tracking_uri
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_absolute():
        uri = f"sqlite:///{(args.project / uri.removeprefix('sqlite:///')).resolve()}"
    client = mlflow.MlflowClient(tracking_uri=uri)
    failed = []
    if not args.summary_only:
        for variant in variants:
            for seed in args.seeds or [None]:
                _, code = run_variant(client, args, variant, seed)
                if code:
                    failed.append(f"{variant.name} (seed {seed})")
    table = sweep_table(client, args.experiment, args.sweep)
    out = args.out or args.project / "data" / "08_reporting" / f"sweep_{args.sweep}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    with pd.option_context("display.width", 160, "display.max_columns", 12):
        print(table[["variant", "stage", "n_runs", *(f"{m}_mean" for m in METRICS)]])
    print(f"summary of sweep {args.sweep!r}: {out}")
    if failed:
        print(f"failed variants: {failed}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
