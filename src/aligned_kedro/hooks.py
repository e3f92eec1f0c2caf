"""Per-dataset parameters: a dataset's block overrides the project's defaults key by key."""

from __future__ import annotations

import copy
from typing import Any

from kedro.framework.hooks import hook_impl

from aligned_kedro.core.errors import InputError


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
