"""Project hooks: per-dataset parameters and the run's data provenance."""

from __future__ import annotations

import copy
import hashlib
import logging
from pathlib import Path
from typing import Any

import pandas as pd
from kedro.framework.hooks import hook_impl
from kedro.io import AbstractVersionedDataset, DataCatalog
from kedro.pipeline import Pipeline

from aligned_kedro.core.errors import InputError

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


class DatasetParametersHook:
    """Puts ``params:<dataset>.<key>`` in the catalog for every key of the merged
    parameters, so a namespaced ``aligned`` pipeline reads its dataset's values and the
    project's defaults for everything the dataset does not set."""

    @hook_impl
    def after_catalog_created(self, catalog: Any, parameters: dict[str, Any]) -> None:
        for name, values in dataset_parameters(parameters.get("parameters", {})).items():
            for key, value in _flatten(name, values).items():
                catalog[key] = value
