"""A failed node's error names its dataset and, for a single-cell screen, the h5ad file and
its obs or var column instead of the internal pseudobulk tables."""

from __future__ import annotations

from kedro.pipeline import node

from aligned_kedro.core.errors import InputError
from aligned_kedro.dataset_errors import DatasetErrorHooks

PARAMETERS = {
    "datasets": ["norman"],
    "norman": {
        "data_processing": {
            "input": "anndata",
            "cells": {"column": "perturbation", "gene_name_column": "symbol"},
        }
    },
}
FILES = {
    "norman.raw_cells": "data/01_raw/norman/screen.h5ad",
    "raw_edges": "data/01_raw/ecoli/trn.tsv.gz",
}


class Entry:
    def __init__(self, path: str | None):
        self.path = path

    def _describe(self) -> dict:
        return {"filepath": self.path}


class Catalog:
    def get(self, name: str) -> Entry:
        return Entry(FILES.get(name))


def failed(error: InputError, namespace: str | None) -> str:
    hooks = DatasetErrorHooks()
    hooks.after_catalog_created(catalog=Catalog(), parameters={"parameters": PARAMETERS})
    step = node(lambda x: x, "x", "y", name="select_conditions", namespace=namespace)
    hooks.on_node_error(error=error, node=step, catalog=Catalog())
    return str(error)


def test_a_cell_screen_error_names_the_h5ad_and_its_obs_column():
    error = InputError(
        "perturbation names an unknown gene",
        source="raw_design",
        column="perturbation",
        row="ATF2",
        gene="ATF2",
    )
    assert failed(error, "norman") == (
        "dataset 'norman': perturbation names an unknown gene (file 'norman.raw_cells "
        "(data/01_raw/norman/screen.h5ad)', column \"obs['perturbation']\", row 'ATF2', "
        "gene 'ATF2')"
    )


def test_a_gene_table_error_names_the_var_column():
    error = InputError("duplicate gene name", source="raw_genes", column="gene_name")
    assert "column \"var['symbol']\"" in failed(error, "norman")


def test_the_default_dataset_is_named_with_its_file():
    error = InputError("regulator is not a gene", source="raw_edges", column="regulator")
    assert failed(error, None) == (
        "dataset 'default': regulator is not a gene (file 'raw_edges "
        "(data/01_raw/ecoli/trn.tsv.gz)', column 'regulator')"
    )
    inner = InputError("bad round", source="round data")
    assert failed(inner, "round_1") == "dataset 'default': bad round (file 'round data')"
