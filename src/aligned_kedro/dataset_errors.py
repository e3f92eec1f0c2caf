"""Errors that name the dataset they come from and the user's own file.

A node of dataset ``<name>``'s namespaced job that fails gets the dataset's name on its
error; an `InputError` raised about an internal table of a single-cell screen (the
pseudobulk design, expression or gene table) names the h5ad dataset and its obs or var
column instead, and every raw input is named by its catalog entry and file.
"""

from __future__ import annotations

import logging
from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.pipeline.node import Node

from aligned_kedro.core.errors import InputError
from aligned_kedro.hooks import dataset_parameters

log = logging.getLogger(__name__)

DEFAULT_DATASET = "default"
CELL_TABLES = {
    "raw_design": "obs",
    "design_table": "obs",
    "pseudobulk_design_table": "obs",
    "raw_expression": "X",
    "pseudobulk_expression": "X",
    "raw_genes": "var",
    "cell_genes_table": "var",
}


def _cell_column(column: str | None, kind: str, cells: dict[str, Any]) -> str | None:
    """The obs or var column of the h5ad that an internal table's column comes from."""
    if kind == "obs" and column in ("perturbation", "condition", None):
        return f"obs[{cells.get('column', 'condition')!r}]"
    if kind == "obs" and column == "perturbation_type" and cells.get("type_column"):
        return f"obs[{cells['type_column']!r}]"
    if kind == "var" and column in ("gene_name", None):
        return f"var[{cells.get('gene_name_column', 'gene_name')!r}]"
    if kind == "X":
        return f"layers[{cells['layer']!r}]" if cells.get("layer") else "X"
    return column


def _file(catalog: Any, name: str) -> str:
    """``name (filepath)`` of a catalog entry with a file; ``name`` otherwise."""
    try:
        path = catalog.get(name)._describe().get("filepath")
    except Exception:  # a dataset without a file or a description
        path = None
    return f"{name} ({path})" if path else name


class DatasetErrorHooks:
    """Names, on the error of a failed node, the dataset of its namespace (``default``
    for the project's own data) and the user's file instead of an internal table."""

    def __init__(self) -> None:
        self.parameters: dict[str, dict[str, Any]] = {}

    @hook_impl
    def after_catalog_created(self, catalog: Any, parameters: dict[str, Any]) -> None:
        values = parameters.get("parameters", {})
        self.parameters = {DEFAULT_DATASET: values, **dataset_parameters(values)}

    @hook_impl
    def on_node_error(self, error: Exception, node: Node, catalog: Any) -> None:
        namespace = (node.namespace or "").split(".")[0]
        dataset = namespace if namespace in self.parameters else DEFAULT_DATASET
        if not isinstance(error, InputError):
            log.error("dataset %r: node %s failed", dataset, node.name)
            return
        processing = self.parameters.get(dataset, {}).get("data_processing") or {}
        source, column = error.source, error.column
        if processing.get("input") == "anndata" and source in CELL_TABLES:
            column = _cell_column(column, CELL_TABLES[source], processing.get("cells") or {})
            source = "raw_cells"
        if source is not None and source.startswith("raw_"):
            prefix = "" if dataset == DEFAULT_DATASET else f"{dataset}."
            source = _file(catalog, prefix + source)
        error.locate(dataset=dataset, source=source, column=column)
