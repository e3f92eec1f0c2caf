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
With ``--dask`` they run as tasks of a Dask cluster instead, one `kedro run` process per
task (README "Scale out"):

    python scripts/sweep.py --only default --seeds 0 1 2 3 4 --dask local --workers 2
    python scripts/sweep.py --dask tcp://scheduler:8786 --tracking-uri http://mlflow:5000

``--dask local`` starts a `distributed.LocalCluster` of ``--workers`` processes and, for a
sqlite ``--tracking-uri`` (the default), serves that store through a local ``mlflow
server`` for the sweep's duration (sqlite takes one writer at a time). On a running
cluster (``tcp://...``) every worker needs the project at ``--project`` and a tracking
server it reaches. Either way the summary is read back from MLflow as above.
The summary goes to data/08_reporting/sweep_<name>.csv.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import mlflow
import pandas as pd

from aligned_kedro.core.evaluation.metrics import aggregate_table
from aligned_kedro.runs import exit_on_sigterm
from aligned_kedro.tracking import TRACKING_URI_ENV, ensure_experiment

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


@dataclass(frozen=True)
class Outcome:
    """How one run of the sweep ended: its MLflow run, exit code, seconds, the host
    that ran it and, when captured (Dask tasks), the end of its console output."""

    variant: str
    seed: int | None
    run_id: str
    code: int
    seconds: float
    host: str
    output: str = ""


def run_variant(
    tracking_uri: str,
    experiment: str,
    sweep: str,
    project: Path,
    variant: Variant,
    params: str,
    seed: int | None,
    capture: bool = False,
) -> Outcome:
    """One `kedro run` of `variant` in `project`, logging into an MLflow run created
    for it (``MLFLOW_RUN_ID``) in `tracking_uri` (``ALIGNED_TRACKING_URI``). In this
    process, or as a Dask task on a worker; `capture` keeps the last 4,000 characters
    of its console for the caller instead of printing them."""
    if not Path(project).is_dir():
        raise FileNotFoundError(f"no project folder {project} on {socket.gethostname()}")
    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    run_id = start_run(client, experiment, sweep, variant)
    env = {**os.environ, "MLFLOW_RUN_ID": run_id, TRACKING_URI_ENV: tracking_uri}
    cmd = command(variant, run_params(params, seed))
    if not capture:
        print(f"[{variant.name}] run {run_id}: {' '.join(cmd)}", flush=True)
    started = time.perf_counter()
    done = subprocess.run(
        cmd,
        cwd=project,
        env=env,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.STDOUT if capture else None,
        text=True,
    )
    if done.returncode != 0 and client.get_run(run_id).info.status == "RUNNING":
        client.set_terminated(run_id, end_status(done.returncode))
    seconds = time.perf_counter() - started
    host, output = socket.gethostname(), (done.stdout or "")[-4000:]
    return Outcome(variant.name, seed, run_id, done.returncode, seconds, host, output)


def end_status(code: int) -> str:
    """The MLflow state of a run whose process exited with `code` and left it RUNNING:
    KILLED for a signal (Ctrl-C, kill), FAILED otherwise."""
    signalled = code < 0 or code in (128 + signal.SIGINT, 128 + signal.SIGTERM)
    return "KILLED" if signalled else "FAILED"


def report(outcome: Outcome) -> None:
    seed = "" if outcome.seed is None else f" seed {outcome.seed}"
    print(
        f"[{outcome.variant}{seed}] exit {outcome.code} after {outcome.seconds:.0f} s"
        f" on {outcome.host} (run {outcome.run_id})",
        flush=True,
    )
    if outcome.code and outcome.output:
        print(outcome.output, file=sys.stderr, flush=True)


class TrackingServer:
    """An ``mlflow server`` on 127.0.0.1 for the store `store`, started in its own
    process group so that `stop` ends it with every process it spawned."""

    def __init__(self, store: str, artifacts: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (open while the server runs)
        self._process = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", store]
            + ["--default-artifact-root", str(artifacts), "--no-serve-artifacts"]
            + ["--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        )

    def ready(self, timeout: float = 180.0) -> str:
        """The server's URL once it answers ``/health``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._log.seek(0)
                tail = self._log.read().decode(errors="replace")[-2000:]
                raise SystemExit(f"mlflow server exited with {self._process.returncode}:\n{tail}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.url}/health", timeout=2) as answer,
            ):
                if answer.status == 200:
                    return self.url
            time.sleep(0.5)
        raise SystemExit(f"mlflow server at {self.url} did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        """SIGTERM to the group, then SIGKILL to whatever of it is left after 10 s."""
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, None)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=wait)
        self._log.close()


@contextlib.contextmanager
def dask_client(address: str, workers: int) -> Iterator[object]:
    """A `distributed.Client` of a new `LocalCluster` (``local``: `workers` processes of
    one thread, each running one `kedro run` at a time) or of the scheduler at `address`."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as error:
        raise SystemExit(f"--dask needs the extra: pip install -e '.[scale]' ({error})") from None
    with contextlib.ExitStack() as stack:
        if address == "local":
            cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
            )
            stack.enter_context(cluster)
            client = stack.enter_context(Client(cluster))
        else:
            client = stack.enter_context(Client(address))
        yield client


def dask_task(variant: str, **task: object) -> dict[str, object]:
    """`run_variant` on a worker: the variant by name and the outcome as a dict. Run as a
    script, this module travels to the workers by value (cloudpickle); imported, the
    workers import it by name."""
    chosen = next(v for v in VARIANTS if v.name == variant)
    return asdict(run_variant(variant=chosen, capture=True, **task))


def run_on_dask(client: object, jobs: list[tuple[Variant, int | None]], **task: object) -> list:
    """Every job as one task; outcomes in the order they finish."""
    from distributed import as_completed

    futures = [
        client.submit(dask_task, variant=v.name, seed=seed, pure=False, **task) for v, seed in jobs
    ]
    outcomes = []
    for future in as_completed(futures):
        outcomes.append(Outcome(**future.result()))
        report(outcomes[-1])
    return outcomes


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
    parser.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="run as Dask tasks: local (a LocalCluster) or a scheduler, tcp://HOST:8786",
    )
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="--dask local: worker processes"
    )
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
    sqlite = uri.startswith("sqlite:///")
    if sqlite and not Path(uri.removeprefix("sqlite:///")).is_absolute():
        uri = f"sqlite:///{(args.project / uri.removeprefix('sqlite:///')).resolve()}"
    if args.dask and args.dask != "local" and sqlite and not args.summary_only:
        parser.error(
            f"--dask {args.dask}: the workers need a tracking server they all reach, "
            "--tracking-uri http://HOST:5000 (README 'Scale out'), not a sqlite file"
        )
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    jobs = [(v, seed) for v in variants for seed in args.seeds or [None]]
    failed = []
    with contextlib.ExitStack() as stack:
        if args.dask and not args.summary_only:
            server = None
            if args.dask == "local" and sqlite:
                server = TrackingServer(uri, (args.project / "mlruns").resolve())
                stack.callback(server.stop)
            cluster = stack.enter_context(dask_client(args.dask, args.workers))
            uri = server.ready() if server else uri
            print(f"sweep {args.sweep!r}: {len(jobs)} runs on {cluster}, MLflow at {uri}")
        client = mlflow.MlflowClient(tracking_uri=uri)
        if not args.summary_only:
            ensure_experiment(client, args.experiment)
            task = {
                "tracking_uri": uri,
                "experiment": args.experiment,
                "sweep": args.sweep,
                "project": args.project.resolve(),
                "params": args.params,
            }
            if args.dask:
                outcomes = run_on_dask(cluster, jobs, **task)
            else:
                outcomes = []
                for variant, seed in jobs:
                    outcomes.append(run_variant(variant=variant, seed=seed, **task))
                    report(outcomes[-1])
            failed = [f"{o.variant} (seed {o.seed})" for o in outcomes if o.code]
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
    exit_on_sigterm()  # `kill` ends the sweep through its clean-up: cluster, server
    sys.exit(main())
