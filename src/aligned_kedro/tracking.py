"""MLflow for comparing runs: kedro-mlflow's hook with the project's conventions.

- the store (``sqlite:///mlflow.db``) lies in the project folder, wherever Kedro starts;
  ``ALIGNED_TRACKING_URI``, when set, replaces it (`scripts/sweep.py` points the runs of a
  Dask sweep at its tracking server this way);
- the experiment is a model-training one, so the UI opens on its runs;
- a run is named from a template (``{pipeline} k={k} seed={seed}{datasets}``), carries the
  full command line, and logs every parameter once, in batches;
- metrics go in batches (`log_metrics`), and the final stage's headline metrics
  (``final.*``) are logged for the runs table;
- a run that is interrupted ends KILLED, one that fails FAILED, each with what it logged;
  a run left RUNNING by a process that died is marked KILLED when the project next starts.
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import re
import shlex
import socket
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from kedro.framework.hooks import hook_impl
from kedro_mlflow.framework.hooks.mlflow_hook import MlflowHook
from mlflow.entities import Metric, Param, RunStatus
from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH

from aligned_kedro.hooks import dataset_parameters
from aligned_kedro.runs import exit_on_sigterm, process_alive, process_token
from aligned_kedro.schema import flatten

log = logging.getLogger(__name__)

RUN_NAME = "{pipeline} k={k} seed={seed}{datasets}"
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")
HEADLINE = ("data_f1", "kb_f1", "balanced_f1", "kb_usage")
FINAL = "final"
PROCESS_TAGS = ("aligned.host", "aligned.pid", "aligned.pid_token")
BATCH = 1000
KILLED = RunStatus.to_string(RunStatus.KILLED)
TRACKING_URI_ENV = "ALIGNED_TRACKING_URI"
FINAL_METRICS = re.compile(r"^(?:(?P<ns>.+)\.)?round_(?P<round>\d+)\.refine_metrics$")


def log_metrics(
    run_id: str, metrics: Mapping[str, float | Sequence[float]], client: Any = None
) -> None:
    """Log `metrics` to run `run_id` in batches of 1,000 (one call each, not one per
    value); a sequence is a metric history with steps 0, 1, ..."""
    client = client or mlflow.MlflowClient()
    now = int(time.time() * 1000)
    entries = [
        Metric(name, float(v), now, step)
        for name, value in metrics.items()
        for step, v in enumerate(value if isinstance(value, Sequence) else [value])
    ]
    for start in range(0, len(entries), BATCH):
        client.log_batch(run_id, metrics=entries[start : start + BATCH], synchronous=True)


def log_params(run_id: str, params: Mapping[str, Any], client: Any = None) -> None:
    """Log `params` (dotted names) to run `run_id` once, 100 per call; values longer than
    MLflow allows are cut."""
    client = client or mlflow.MlflowClient()
    entries = [
        Param(re.sub(r"[^/\w.\- :]", "_", name), str(value)[:MAX_PARAM_VAL_LENGTH])
        for name, value in sorted(params.items())
    ]
    for start in range(0, len(entries), 100):
        client.log_batch(run_id, params=entries[start : start + 100], synchronous=True)


def run_parameters(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The run's parameters as MLflow logs them: the project's (dotted), and for each
    dataset of ``datasets`` its merged parameters under ``<dataset>.``."""
    names = [n for n in parameters.get("datasets") or [] if isinstance(n, str)]
    flat = flatten({k: v for k, v in parameters.items() if k not in names})
    for name, values in dataset_parameters(dict(parameters)).items():
        flat.update(flatten({k: v for k, v in values.items() if k != "datasets"}, f"{name}."))
    return flat


def run_name(
    template: str,
    pipelines: Iterable[str],
    parameters: Mapping[str, Any],
    namespaces: Iterable[str] | None = None,
) -> str:
    """The run's name from `template`: ``{pipeline}`` (the pipelines joined by +),
    ``{k}``, ``{seed}`` and ``{datasets}`` (`` [a, b]`` for the datasets the run covers,
    empty for the default data alone)."""
    names = list(namespaces or []) or [
        n for n in parameters.get("datasets") or [] if isinstance(n, str)
    ]
    fields = {
        "pipeline": "+".join(pipelines) or "__default__",
        "k": parameters.get("k"),
        "seed": parameters.get("seed"),
        "datasets": f" [{', '.join(names)}]" if names else "",
    }
    try:
        return template.format(**fields)
    except (KeyError, IndexError, ValueError) as error:
        log.warning("run name template %r: %s; expected fields %s", template, error, list(fields))
        return fields["pipeline"]


def command_line(run_params: Mapping[str, Any]) -> str:
    """The ``kedro run`` command of the run, ``--params`` included."""
    parts = ["kedro", "run"]
    pipelines = run_params.get("pipeline_names") or []
    if pipelines:
        parts.append(f"--pipelines={','.join(pipelines)}")
    for option in ("namespaces", "node_names", "from_nodes", "to_nodes", "tags", "to_outputs"):
        values = run_params.get(option) or []
        if values:
            parts.append(f"--{option.replace('_names', 's').replace('_', '-')}={','.join(values)}")
    if run_params.get("from_inputs"):
        parts.append(f"--from-inputs={','.join(run_params['from_inputs'])}")
    if run_params.get("load_versions"):
        versions = ",".join(f"{k}:{v}" for k, v in run_params["load_versions"].items())
        parts.append(f"--load-versions={versions}")
    if run_params.get("env"):
        parts.append(f"--env={run_params['env']}")
    params = flatten(run_params.get("runtime_params") or {})
    if params:
        parts.append("--params=" + ",".join(f"{k}={_yaml(v)}" for k, v in params.items()))
    return shlex.join(parts)


def _yaml(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return "null" if value is None else str(value)


def process_command() -> str:
    """How this process was started, when it is a command (``kedro ...``), else ""."""
    program = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    if program in ("kedro", "aligned-kedro"):
        return shlex.join([program, *sys.argv[1:]])
    if program == "__main__.py" and Path(sys.argv[0]).parent.name == "aligned_kedro":
        return shlex.join(["python", "-m", "aligned_kedro", *sys.argv[1:]])
    return ""


def ensure_experiment(client: Any, name: str) -> str:
    """The ID of experiment `name`, created if needed, tagged as model training so the
    MLflow UI opens on its runs (not the GenAI views)."""
    found = client.get_experiment_by_name(name)
    experiment_id = found.experiment_id if found else client.create_experiment(name)
    tags = found.tags if found else {}
    if tags.get(EXPERIMENT_KIND[0]) != EXPERIMENT_KIND[1]:
        client.set_experiment_tag(experiment_id, *EXPERIMENT_KIND)
    return experiment_id


def mark_abandoned_runs(client: Any, experiment_id: str) -> list[str]:
    """Mark KILLED every RUNNING run of this machine whose process is gone; returns
    their IDs. Runs without the process tags (another tool's) are left alone."""
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"attributes.status = 'RUNNING' and tags.`{PROCESS_TAGS[0]}` = "
        f"'{socket.gethostname()}'",
    )
    marked = []
    for run in runs:
        tags = run.data.tags
        try:
            pid = int(tags[PROCESS_TAGS[1]])
        except (KeyError, ValueError):
            continue
        if process_alive(pid, tags.get(PROCESS_TAGS[2])):
            continue
        client.set_tag(run.info.run_id, "aligned.ended", "process gone; marked at next start")
        client.set_terminated(run.info.run_id, KILLED)
        marked.append(run.info.run_id)
    return marked


def _absolute_store(context: Any) -> None:
    """The store of ``ALIGNED_TRACKING_URI`` if set, else mlflow.yml's; a relative
    ``sqlite:///`` store is resolved against the project folder (not the working
    directory, e.g. ``notebooks/``) before kedro-mlflow reads the config. (Not
    ``MLFLOW_TRACKING_URI``: kedro-mlflow sets that variable in every process it runs in.)"""
    loader = context.config_loader
    loader.config_patterns.setdefault("mlflow", ["mlflow*", "mlflow*/**", "**/mlflow*"])
    try:
        conf = loader["mlflow"]
    except Exception:  # no mlflow.yml: kedro-mlflow uses its defaults
        return
    server = conf.get("server") or {}
    uri = os.environ.get(TRACKING_URI_ENV) or server.get("mlflow_tracking_uri") or ""
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not Path(uri.removeprefix(prefix)).is_absolute():
        uri = f"{prefix}{Path(context.project_path) / uri.removeprefix(prefix)}"
    if uri and uri != server.get("mlflow_tracking_uri"):
        loader["mlflow"] = {**conf, "server": {**server, "mlflow_tracking_uri": uri}}


def _edges(table: pd.DataFrame) -> set[tuple[Any, Any, Any]]:
    columns = ["regulator", "target", "sign"]
    return set(table[columns].itertuples(index=False, name=None))


class AlignedMlflowHook(MlflowHook):
    """kedro-mlflow's hook (registered in place of the plugin's) with the project's run
    names, experiment kind, parameters, headline metrics and run states."""

    def __init__(self) -> None:
        super().__init__()
        self._parameters: dict[str, Any] = {}
        self._template = RUN_NAME
        self._open = False
        self._finals: dict[str, tuple[str, int]] = {}
        self._catalog: Any = None

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        _absolute_store(context)
        super().after_context_created(context)
        config = self.mlflow_config
        self._template = config.tracking.run.name or RUN_NAME
        self._parameters = dict(context.params)
        experiment = getattr(config.tracking.experiment, "_experiment", None)
        if experiment is None:
            return
        client = config.server._mlflow_client
        ensure_experiment(client, experiment.name)
        for run_id in mark_abandoned_runs(client, experiment.experiment_id):
            log.warning("MLflow run %s was left RUNNING by a process that died: KILLED", run_id)

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        self._end_open_run(KILLED)
        pipelines = run_params.get("pipeline_names") or ["__default__"]
        config = self.mlflow_config
        config.tracking.run.name = run_name(
            self._template, pipelines, self._parameters, run_params.get("namespaces")
        )
        try:
            super().before_pipeline_run(run_params, pipeline, catalog)
        finally:
            config.tracking.run.name = self._template
        if not self._is_mlflow_enabled or self.run_id is None:
            return
        self._open = True
        self._catalog = catalog
        exit_on_sigterm()
        atexit.register(self._end_open_run, KILLED)
        client = config.server._mlflow_client
        process = (socket.gethostname(), str(os.getpid()), process_token(os.getpid()) or "")
        tags = dict(zip(PROCESS_TAGS, process, strict=True))
        runner = str(run_params.get("runner") or "")
        tags["runner"] = re.sub(r"^<([\w.]+\.)?(\w+) object at 0x\w+>$", r"\2", runner)
        mlflow.set_tags({**tags, "kedro_command": command_line(run_params)})
        started = process_command()
        if started:
            mlflow.set_tag("command_line", started)
        log_params(self.run_id, run_parameters(self._parameters), client)
        log.info("MLflow run %r (%s)", mlflow.active_run().info.run_name, self.run_id)
        self._finals = self._final_stages(pipeline.all_outputs())

    @staticmethod
    def _final_stages(outputs: Iterable[str]) -> dict[str, tuple[str, int]]:
        """Per namespace ("" for the default data), the last refine stage's metrics."""
        last: dict[str, int] = {}
        for name in outputs:
            found = FINAL_METRICS.match(name)
            if found:
                ns = found["ns"] or ""
                last[ns] = max(last.get(ns, 0), int(found["round"]))
        return {
            f"{ns + '.' if ns else ''}round_{r}.refine_metrics": (ns, r) for ns, r in last.items()
        }

    @hook_impl
    def before_node_run(self, node: Any, catalog: Any, inputs: dict[str, Any], is_async: bool):
        """Reopen the run in this thread; parameters were logged once at the start."""
        active = mlflow.active_run()
        if self.run_id is not None and (active is None or active.info.run_id != self.run_id):
            mlflow.start_run(run_id=self.run_id, nested=self.mlflow_config.tracking.run.nested)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any, node: Any) -> None:
        if dataset_name in self._finals and self._open:
            self._log_final(*self._finals[dataset_name], data)

    def _log_final(self, namespace: str, round_number: int, metrics: Mapping[str, Any]) -> None:
        """``final.<metric>`` of the last refine stage, and ``final.edges_added`` and
        ``final.edges_removed``: edges of the final KB that the original lacks, and the
        reverse."""
        prefix = f"{namespace}." if namespace else ""
        stage = f"round_{round_number}.refine"
        final = {
            f"{prefix}{FINAL}.{m}": metrics[f"{stage}.{m}"]
            for m in HEADLINE
            if f"{stage}.{m}" in metrics
        }
        try:
            original = _edges(self._catalog.load(f"{prefix}knowledge_base_table"))
            refined_kb = f"{prefix}round_{round_number}.refined_kb_table"
            refined = _edges(self._catalog.load(refined_kb))
        except Exception as error:  # a partial run (--from-nodes) may lack one
            log.info("final edge counts not logged: %s", error)
        else:
            final[f"{prefix}{FINAL}.edges_added"] = len(refined - original)
            final[f"{prefix}{FINAL}.edges_removed"] = len(original - refined)
        final = {k: v for k, v in final.items() if isinstance(v, int | float) and math.isfinite(v)}
        log_metrics(self.run_id, final, self.mlflow_config.server._mlflow_client)

    @hook_impl
    def after_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        self._close()
        super().after_pipeline_run(run_params, pipeline, catalog)

    @hook_impl
    def on_pipeline_error(
        self, error: Exception, run_params: dict[str, Any], pipeline: Any, catalog: Any
    ) -> None:
        self._close()
        super().on_pipeline_error(error, run_params, pipeline, catalog)

    def _close(self) -> None:
        self._open = False
        self._catalog = None
        atexit.unregister(self._end_open_run)

    def _end_open_run(self, status: str) -> None:
        """End the run this hook opened and nobody closed (an interrupted run), with
        `status`, keeping what it logged."""
        if not self._open or self.run_id is None:
            return
        run_id = self.run_id
        self._close()
        client = self.mlflow_config.server._mlflow_client
        try:
            client.set_tag(run_id, "aligned.ended", "interrupted")
            active = mlflow.active_run()
            if active is not None and active.info.run_id == run_id:
                mlflow.end_run(status)
            else:
                client.set_terminated(run_id, status)
        except Exception as error:  # the store may be gone at exit
            log.warning("could not mark MLflow run %s %s: %s", run_id, status, error)
            return
        log.warning("MLflow run %s ended %s: the run was interrupted", run_id, status)
