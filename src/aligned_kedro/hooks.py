"""Project hooks: per-dataset parameters, the run's data provenance, the parameter
schema, and runs that publish together."""

from __future__ import annotations

import atexit
import copy
import hashlib
import logging
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
from kedro.framework.hooks import hook_impl
from kedro.framework.project import settings
from kedro.io import AbstractVersionedDataset, DataCatalog, Version
from kedro.pipeline import Pipeline

from aligned_kedro.console import configure_console
from aligned_kedro.core.errors import InputError
from aligned_kedro.runs import (
    FAILED,
    INCOMPLETE,
    KILLED,
    RunLedger,
    RunRecord,
    activate,
    deactivate,
    exit_on_sigterm,
)
from aligned_kedro.schema import Schema, base_defaults, check_parameters

log = logging.getLogger(__name__)

PROVENANCE = "data_provenance"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(2**20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _checksum(files: list[Path]) -> str:
    """SHA-256 of one file; of the files' checksums for a folder dataset."""
    if not files:
        return "missing"
    if len(files) == 1:
        return _sha256(files[0])
    return hashlib.sha256("".join(_sha256(f) for f in files).encode()).hexdigest()


def _files(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]


def _is_provenance(name: str) -> bool:
    return name == PROVENANCE or name.endswith(f".{PROVENANCE}")


def input_files(pipeline: Pipeline, catalog: DataCatalog) -> pd.DataFrame:
    """The run's inputs that no node of it produces: dataset, type, file (the loaded
    version for versioned datasets), size and SHA-256."""
    rows = []
    for name in sorted(pipeline.inputs()):
        if name.startswith("params:") or name == "parameters" or _is_provenance(name):
            continue
        dataset = catalog.get(name)
        row: dict[str, Any] = {"dataset": name, "type": type(dataset).__name__}
        try:
            if isinstance(dataset, AbstractVersionedDataset) and dataset._version is not None:
                found = dataset._get_load_path()
            else:
                found = dataset._describe().get("filepath")
        except Exception as error:  # a missing input fails the run later, with Kedro's message
            log.warning("no file for input %s: %s", name, error)
            found = None
        if found is not None:
            files = _files(Path(str(found)))
            existing = [f for f in files if f.exists()]
            row["file"] = str(found)
            row["bytes"] = sum(f.stat().st_size for f in existing)
            row["sha256"] = _checksum(existing)
        rows.append(row)
    return pd.DataFrame(rows, columns=["dataset", "type", "file", "bytes", "sha256"])


class ProvenanceHooks:
    """Makes ``data_provenance`` (the table of `input_files`) available to a pipeline that
    asks for it, so the run report can say exactly which files it was made from; a
    namespaced ``<name>.data_provenance`` lists the files of dataset ``<name>`` only."""

    @hook_impl
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: DataCatalog
    ) -> None:
        wanted = [name for name in pipeline.inputs() if _is_provenance(name)]
        if not wanted:
            return
        files = input_files(pipeline, catalog)
        for name in wanted:
            namespace = name[: -len(PROVENANCE)]
            own = (
                files["dataset"].str.startswith(namespace)
                if namespace
                else ~files["dataset"].str.contains(".", regex=False)
            )
            catalog[name] = files[own].reset_index(drop=True)


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``override`` written over it; nested dicts merge, other values replace."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def dataset_parameters(parameters: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """For every name in ``datasets``, the project's parameters with ``<name>:`` over them."""
    names = list(parameters.get("datasets") or [])
    defaults = {k: v for k, v in parameters.items() if k != "datasets" and k not in names}
    result = {}
    for name in names:
        block = parameters.get(name) or {}
        if not isinstance(block, dict):
            raise InputError(
                f"parameters of dataset {name!r} must be a mapping", source="parameters", row=name
            )
        result[name] = deep_merge(defaults, block)
    return result


def _flatten(prefix: str, value: Any) -> dict[str, Any]:
    flat = {f"params:{prefix}": value}
    if isinstance(value, dict):
        for key, inner in value.items():
            flat.update(_flatten(f"{prefix}.{key}", inner))
    return flat


RUN_PARAMETERS = "run_parameters"


class DatasetParametersHook:
    """Puts ``params:<dataset>.<key>`` in the catalog for every key of the merged
    parameters, so a namespaced ``aligned`` pipeline reads its dataset's values and the
    project's defaults for everything the dataset does not set; and, as
    ``params:[<dataset>.]run_parameters``, the parameters of each job alone (the default
    job without the datasets' blocks), for its report."""

    @hook_impl
    def after_catalog_created(self, catalog: Any, parameters: dict[str, Any]) -> None:
        project = parameters.get("parameters", {})
        merged = dataset_parameters(project)
        catalog[f"params:{RUN_PARAMETERS}"] = {k: v for k, v in project.items() if k not in merged}
        for name, values in merged.items():
            for key, value in _flatten(name, values).items():
                catalog[key] = value
            catalog[f"params:{name}.{RUN_PARAMETERS}"] = values


def versioned_outputs(pipeline: Pipeline, catalog: DataCatalog, version: str) -> list[Path]:
    """The local version folders (``<dataset>/<version>``) the run of `pipeline` writes."""
    folders = []
    for name in sorted(pipeline.all_outputs()):
        dataset = catalog.get(name) if name in catalog else None
        if not isinstance(dataset, AbstractVersionedDataset) or dataset._version is None:
            continue
        if getattr(dataset, "_protocol", "file") not in ("file", "local", None):
            continue
        folders.append(Path(str(dataset._filepath)) / version)
    return folders


def pin_own_versions(pipeline: Pipeline, catalog: DataCatalog, version: str) -> int:
    """Every versioned dataset the run writes loads the version the run saved, not the
    newest on disk, so runs sharing a project folder (a Dask sweep) never read each
    other's outputs. Returns how many datasets were pinned."""
    pinned = 0
    for name in pipeline.all_outputs():
        dataset = catalog.get(name) if name in catalog else None
        if isinstance(dataset, AbstractVersionedDataset) and dataset._version is not None:
            dataset._version = Version(version, version)
            pinned += 1
    return pinned


class RunLedgerHooks:
    """A run publishes together (`aligned_kedro.runs`): it reads back only its own
    versions of what it writes and is recorded with the version folders it writes;
    complete, its staged files are renamed into place; failed or interrupted, its folders
    are set aside so that "latest" stays the last complete run's. Runs of processes that
    died are set aside when the project next starts."""

    def __init__(self) -> None:
        self._ledger: RunLedger | None = None
        self._record: RunRecord | None = None

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        self._ledger = RunLedger(context.project_path)
        for record in self._ledger.recover():
            log.warning(
                "run %s (process %s) died before it completed; its outputs are set aside in %s",
                record.version,
                record.pid,
                INCOMPLETE / record.version,
            )

    @hook_impl
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: DataCatalog
    ) -> None:
        if self._ledger is None:
            return
        self._abandon(KILLED)
        version = run_params["run_id"]
        pin_own_versions(pipeline, catalog, version)
        self._record = self._ledger.start(
            version,
            versioned_outputs(pipeline, catalog, version),
            list(run_params.get("pipeline_names") or ["__default__"]),
        )
        activate(self._ledger, self._record)
        exit_on_sigterm()
        atexit.register(self._abandon, KILLED)

    @hook_impl
    def after_pipeline_run(self) -> None:
        if self._ledger is None or self._record is None:
            return
        record = self._close()
        self._ledger.complete(record)

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._abandon(FAILED)

    def _close(self) -> RunRecord:
        record, self._record = self._record, None
        deactivate()
        atexit.unregister(self._abandon)
        return record

    def _abandon(self, status: str) -> None:
        if self._ledger is None or self._record is None:
            return
        record = self._close()
        moved = self._ledger.abandon(record, status)
        if moved:
            log.warning(
                "run %s %s: its %d output versions are set aside in %s",
                record.version,
                status,
                len(moved),
                INCOMPLETE / record.version,
            )


class ParameterSchemaHook:
    """Checks the run's parameters against the schema (`aligned_kedro.schema`) before
    anything runs or is logged: every pipeline refuses the same parameters."""

    def __init__(self) -> None:
        self._parameters: dict[str, Any] = {}
        self._conf_base: Path | None = None

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        self._parameters = dict(context.params)
        self._conf_base = Path(context.project_path) / settings.CONF_SOURCE / "base"

    @hook_impl(tryfirst=True)
    def before_pipeline_run(self) -> None:
        if self._conf_base is None:
            return
        schema = Schema.load(base_defaults(self._conf_base))
        check_parameters(self._parameters, schema)


class _Heartbeat:
    """A line every `every` seconds while a node (its run and its saves) takes long."""

    def __init__(self, name: str, every: float) -> None:
        self._name, self._every, self._stop = name, every, threading.Event()
        threading.Thread(target=self._beat, daemon=True).start()

    def _beat(self) -> None:
        start = time.perf_counter()
        while not self._stop.wait(self._every):
            log.info("%s: still running (%.0f s)", self._name, time.perf_counter() - start)

    def stop(self) -> None:
        self._stop.set()


class ConsoleHooks:
    """The console of a run (`aligned_kedro.console`): one short line as each node starts
    (``[3/41] round_1.align_1``), a line every `HEARTBEAT` seconds while a node is still at
    work (no silent minute), and one when the run completes, in place of Kedro's per-node
    lines (``conf/logging.yml``)."""

    HEARTBEAT = 30.0

    def __init__(self) -> None:
        self._total = 0
        self._started = 0
        self._clock = 0.0
        self._heartbeat: _Heartbeat | None = None

    @hook_impl(tryfirst=True)
    def after_context_created(self) -> None:
        configure_console()

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Pipeline) -> None:
        self._total, self._started, self._clock = len(pipeline.nodes), 0, time.perf_counter()
        names = ", ".join(run_params.get("pipeline_names") or ["__default__"])
        log.info("run %s: %s, %d nodes", run_params["run_id"], names, self._total)

    @hook_impl
    def before_node_run(self, node: Any) -> None:
        self._quiet()
        self._started += 1
        log.info("[%d/%d] %s", self._started, self._total, node.name)
        self._heartbeat = _Heartbeat(node.name, self.HEARTBEAT)

    @hook_impl
    def after_pipeline_run(self, run_params: dict[str, Any]) -> None:
        self._quiet()
        seconds = time.perf_counter() - self._clock
        log.info("run %s completed in %.0f s", run_params["run_id"], seconds)

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._quiet()

    def _quiet(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.stop()
            self._heartbeat = None
