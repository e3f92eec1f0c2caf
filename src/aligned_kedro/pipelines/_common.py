"""Node helpers several pipelines share: the catalog's tables as the core's arrays and
objects, once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from aligned_kedro.core import (
    Abstention,
    KnowledgeBase,
    ModelConfig,
    RoundData,
    RoundSettings,
    compile_kb,
)
from aligned_kedro.core.errors import InputError
from aligned_kedro.core.learning.models import graph_tensors


def gene_ids(universe: pd.DataFrame) -> list[str]:
    """The gene universe, in the column order of every matrix of the run."""
    return universe["gene_id"].tolist()


def measured_mask(universe: pd.DataFrame) -> np.ndarray:
    """True for the measured genes of the universe, False for its latent KB genes (no
    labels, never scored); all True for a universe table without ``measured``."""
    if "measured" not in universe.columns:
        return np.ones(len(universe), dtype=bool)
    return universe["measured"].to_numpy(dtype=bool)


def gene_names(universe: pd.DataFrame) -> pd.Series:
    """``gene_name`` by ``gene_id``, to name the genes of an edge or report table."""
    return universe.set_index("gene_id")["gene_name"]


def deduction_options(params: dict[str, Any]) -> dict[str, Any]:
    """`deduce`'s variant, margin and abstention rule from the ``knowledge_base``
    parameters, as keyword arguments."""
    return {
        "variant": params["variant"],
        "margin": params["margin"],
        "abstention": Abstention.from_params(params.get("abstention")),
    }


def kb_from_table(
    table: pd.DataFrame,
    genes: pd.DataFrame | Sequence[str],
    *,
    source: str = "knowledge_base_table",
) -> KnowledgeBase:
    """The KB of a compiled edge table (``knowledge_base_table``, a refined KB) over the
    universe (its table or its gene IDs); both signs of a pair are kept."""
    ids = gene_ids(genes) if isinstance(genes, pd.DataFrame) else list(genes)
    return compile_kb(table, ids, conflict="both", source=source)


def optional_table(table: pd.DataFrame | dict | None) -> pd.DataFrame | None:
    """An optional input table; a catalog ``MemoryDataset`` with ``data: {}`` means none."""
    if table is None or isinstance(table, pd.DataFrame):
        return table
    return pd.DataFrame(table) if table else None


def synonym_table(synonyms: pd.DataFrame | dict | None) -> pd.DataFrame | None:
    """A synonym table; a catalog ``MemoryDataset`` with ``data: {}`` means none."""
    if synonyms is None or isinstance(synonyms, pd.DataFrame):
        return synonyms
    return pd.DataFrame(synonyms, columns=["name", "genes"]) if synonyms else None


def _rows_of(split: dict[str, Any], part: str, rows: pd.Index) -> np.ndarray:
    found = rows.get_indexer(split[part])
    missing = np.flatnonzero(found < 0)
    if len(missing):
        raise InputError(
            f"a {part} row of the split is not a row of perturbations_table",
            source="conditions_split",
            row=split[part][missing[0]],
        )
    return found


def round_data(
    labels: pd.DataFrame,
    perturbations: pd.DataFrame,
    kb_predictions: pd.DataFrame,
    unlabelled: pd.DataFrame,
    split: dict[str, Any],
    universe: pd.DataFrame,
) -> RoundData:
    """The labelled rows, their split, X_u and δ of the original KB as `RoundData`: the
    tables every stage of Algorithm 1 and every baseline reads, as arrays once."""
    rows, genes = perturbations.index, gene_ids(universe)
    if not rows.is_unique:
        raise InputError(
            "rows must be unique",
            source="perturbations_table",
            row=rows[rows.duplicated()][0],
        )
    for name, table in (
        ("perturbations_table", perturbations),
        ("labels_table", labels),
        ("kb_predictions_table", kb_predictions),
        ("unlabelled_table", unlabelled),
    ):
        if list(table.columns) != genes:
            raise InputError("columns are not the gene universe in order", source=name)
        if name != "unlabelled_table" and not table.index.equals(rows):
            raise InputError("rows differ from those of perturbations_table", source=name)
    return RoundData(
        X=perturbations.to_numpy(),
        Y=labels.to_numpy(),
        kb_pred=kb_predictions.to_numpy(),
        X_u=unlabelled.to_numpy(),
        train=_rows_of(split, "train", rows),
        test=_rows_of(split, "test", rows),
        genes=genes,
        rows=tuple(rows),
        measured=measured_mask(universe),
    )


def round_settings(
    universe: pd.DataFrame,
    training: dict[str, Any],
    knowledge_base: dict[str, Any],
    refinement: dict[str, Any],
    k: int,
    seed: int,
    gamma: float,
) -> RoundSettings:
    """`RoundSettings` from the run's parameters, checked once for every stage."""
    return RoundSettings.from_params(
        training=training,
        knowledge_base=knowledge_base,
        refinement=refinement,
        k=k,
        seed=seed,
        gamma=gamma,
        n_genes=len(universe),
    )


def graph_arrays(graph: pd.DataFrame, genes: Sequence[str], model: ModelConfig) -> dict[str, Any]:
    """``edge_index`` and ``edge_weight`` of ``gnn_graph_table`` (none for the MLP)."""
    if model.model_type != "gnn":
        return {"edge_index": None, "edge_weight": None}
    edge_index, edge_weight = graph_tensors(graph, list(genes), source="gnn_graph_table")
    return {"edge_index": edge_index, "edge_weight": edge_weight}
