"""Single-cell perturbation screens as conditions, samples and labels (notes section 8).

Cells are read in the GEARS convention (``ctrl``, ``A+ctrl``, ``A+B``) or the
scPerturb/pertpy one (a configurable column, control label(s) and guide delimiter). The
default turns cells into pseudobulk samples, so that labels come from the same
differential-expression test as bulk data (`aligned_kedro.core.labels`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from aligned_kedro.core.errors import InputError
from aligned_kedro.core.labels import perturbation_type

log = logging.getLogger(__name__)

Convention = Literal["gears", "scperturb"]
Scale = Literal["counts", "log1p", "log2"]
CONTROL_GROUP = "control"
CELL_COLUMNS = ("condition", "perturbation", "perturbation_type", "is_control")


def _tokens(value: str, delimiter: str) -> list[str]:
    return [t.strip() for t in value.split(delimiter) if t.strip()]


def cell_conditions(
    obs: pd.DataFrame,
    *,
    convention: Convention = "gears",
    column: str = "condition",
    control: str | Sequence[str] = "ctrl",
    delimiter: str = "+",
    type_column: str | None = None,
    perturbation_type_default: str | None = None,
    duplicate_conditions: Literal["error", "merge"] = "error",
    source: str = "cells",
) -> pd.DataFrame:
    """Per cell: its condition (genes joined by ``+`` in first-seen order), perturbed genes,
    perturbation type (KO/KD/OE) and whether it is a control.

    GEARS: ``ctrl`` is the control and ``ctrl`` tokens pad singles (``A+ctrl``).
    scPerturb: the ``control`` label(s) mark controls, guides are split by ``delimiter``.
    The type comes from ``type_column`` or, for the whole dataset,
    ``perturbation_type_default``; there is no implicit default. Errors: no control cells,
    a label differing from a control label only in case, a cell mixing control and
    targeting guides (scPerturb), empty labels, and two labels of one gene set (``A+B``
    and ``B+A``; control padding ``A+ctrl``/``ctrl+A`` is one label) unless
    ``duplicate_conditions: merge``.
    """
    if column not in obs.columns:
        raise InputError(
            f"no perturbation column; found {list(obs.columns)}", source=source, column=column
        )
    controls = {control} if isinstance(control, str) else set(control)
    if convention == "gears":
        controls, delimiter = {"ctrl"} | controls, "+"
    elif convention != "scperturb":
        raise InputError(
            f"unknown convention {convention!r}; expected 'gears' or 'scperturb'",
            source="parameters",
            column="convention",
        )
    folded = {c.lower() for c in controls}
    if type_column is None and perturbation_type_default is None:
        raise InputError(
            "no perturbation type: set data_processing.cells.perturbation_type (KO, KD "
            "(CRISPRi), OE (CRISPRa)) or type_column; knockdowns are never assumed",
            source="parameters",
            column="perturbation_type",
        )
    if type_column is not None and type_column not in obs.columns:
        raise InputError("no perturbation type column", source=source, column=type_column)
    labels = obs[column]
    rows = []
    canonical: dict[frozenset[str], str] = {}
    first_label: dict[frozenset[str], tuple[str, str]] = {}
    type_cache: dict[object, str] = {}
    for cell, value in zip(obs.index, labels, strict=True):
        if pd.isna(value) or not str(value).strip():
            raise InputError("empty perturbation label", source=source, column=column, row=cell)
        text = str(value).strip()
        tokens = _tokens(text, delimiter)
        for token in tokens:
            if token.lower() in folded and token not in controls:
                raise InputError(
                    f"label {text!r} differs from the control label(s) {sorted(controls)} only "
                    "in case: ambiguous control",
                    source=source,
                    column=column,
                    row=cell,
                )
        genes = [t for t in tokens if t not in controls]
        if convention == "scperturb" and genes and len(genes) < len(tokens):
            raise InputError(
                f"label {text!r} mixes control and targeting guides: ambiguous control",
                source=source,
                column=column,
                row=cell,
                gene=genes[0],
            )
        if not genes:
            rows.append((CONTROL_GROUP, "", "", True))
            continue
        key = frozenset(genes)
        name = canonical.setdefault(key, "+".join(dict.fromkeys(genes)))
        label, order = first_label.setdefault(key, (text, "+".join(genes)))
        if order != "+".join(genes) and duplicate_conditions == "error":
            raise InputError(
                f"labels {label!r} and {text!r} name the same perturbation: duplicated "
                "condition (set duplicate_conditions: merge to pool them)",
                source=source,
                column=column,
                row=cell,
                gene=name,
            )
        raw_type = perturbation_type_default if type_column is None else obs.at[cell, type_column]
        if raw_type not in type_cache:
            type_cache[raw_type] = perturbation_type(raw_type, source=source, row=cell)
        rows.append((name, name, type_cache[raw_type], False))
    table = pd.DataFrame(rows, index=obs.index, columns=list(CELL_COLUMNS))
    if not table["is_control"].any():
        raise InputError(
            f"no control cells: no label of column {column!r} is one of {sorted(controls)}",
            source=source,
            column=column,
        )
    return table


def _groups(
    cells: pd.DataFrame,
    replicates: pd.Series | None,
    n_pseudo: int,
    seed: int,
) -> pd.Series:
    """Per cell, the sample it is pooled into: ``<condition>__<replicate>``."""
    if replicates is not None:
        return cells["condition"] + "__" + replicates.astype(str).to_numpy()
    rng = np.random.default_rng(seed)
    group = np.empty(len(cells), dtype=object)
    for condition, index in cells.groupby("condition", sort=True).indices.items():
        order = rng.permutation(index)
        parts = np.array_split(order, min(n_pseudo, len(order)))
        for r, part in enumerate(parts, start=1):
            group[part] = f"{condition}__r{r}"
    return pd.Series(group, index=cells.index)


def pseudobulk(
    X: np.ndarray | sp.spmatrix,
    genes: Sequence[str],
    cells: pd.DataFrame,
    *,
    scale: Scale = "counts",
    pseudo_replicates: int = 3,
    replicates: pd.Series | None = None,
    min_cells: int = 10,
    too_few_cells: Literal["drop", "error"] = "drop",
    pseudocount: float = 1.0,
    seed: int = 0,
    source: str = "cells",
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Pool cells into samples: the expression table (genes x samples, log2 scale), the
    design table of `aligned_kedro.core.labels` and a per-condition report.

    Samples are the cells of a condition within one ``replicates`` value (e.g. a GEM
    group), or, without them, ``pseudo_replicates`` seeded random parts of the condition.
    ``counts`` are summed and turned into log2(CPM + pseudocount); ``log1p`` (natural
    log, scanpy) and ``log2`` values are averaged and expressed in log2. Conditions with
    fewer than ``min_cells`` cells are dropped and listed, or raise.
    """
    matrix = sp.csr_matrix(X, dtype=float)
    if matrix.shape != (len(cells), len(genes)):
        raise InputError(
            f"matrix of shape {matrix.shape} for {len(cells)} cells and {len(genes)} genes",
            source=source,
        )
    data = matrix.data
    if not np.isfinite(data).all() or (data < 0).any():
        bad = ~np.isfinite(data) | (data < 0)
        position = int(np.flatnonzero(bad)[0])
        row = int(np.searchsorted(matrix.indptr, position, side="right") - 1)
        gene = str(genes[matrix.indices[position]])
        kind = "negative" if np.isfinite(data[position]) else "NaN or infinite"
        raise InputError(
            f"{kind} expression value {data[position]}",
            source=source,
            column=gene,
            row=str(cells.index[row]),
            gene=gene,
        )
    sizes = cells.groupby("condition", sort=True).size()
    small = sizes[(sizes < min_cells) & (sizes.index != CONTROL_GROUP)]
    if sizes.get(CONTROL_GROUP, 0) < min_cells:
        raise InputError(
            f"{sizes.get(CONTROL_GROUP, 0)} control cells, fewer than min_cells = {min_cells}",
            source=source,
            row=CONTROL_GROUP,
        )
    if len(small) and too_few_cells == "error":
        raise InputError(
            f"condition has {int(small.iloc[0])} cells, fewer than min_cells = {min_cells}",
            source=source,
            row=str(small.index[0]),
            gene=str(small.index[0]),
        )
    if len(small):
        log.warning("%d conditions with fewer than %d cells dropped", len(small), min_cells)
    keep = ~cells["condition"].isin(small.index).to_numpy()
    cells, matrix = cells[keep], matrix[keep]
    group = _groups(
        cells, None if replicates is None else replicates[keep], pseudo_replicates, seed
    )
    samples, codes = np.unique(group.to_numpy().astype(str), return_inverse=True)
    pool = sp.csr_matrix(
        (np.ones(len(codes)), (codes, np.arange(len(codes)))), shape=(len(samples), len(codes))
    )
    summed = np.asarray((pool @ matrix).todense())
    n_cells = np.asarray(pool.sum(axis=1)).ravel()
    if scale == "counts":
        library = summed.sum(axis=1, keepdims=True)
        library[library == 0] = 1.0
        values = np.log2(summed / library * 1e6 + pseudocount)
    elif scale in ("log1p", "log2"):
        values = summed / n_cells[:, None] / (np.log(2) if scale == "log1p" else 1.0)
    else:
        raise InputError(
            f"unknown scale {scale!r}; expected counts, log1p or log2",
            source="parameters",
            column="scale",
        )
    expression = pd.DataFrame(values.T, index=pd.Index(genes, name="gene"), columns=samples)
    first = cells.groupby(group.to_numpy()).first()
    first = first.loc[samples]
    control = first["is_control"].to_numpy()
    design = pd.DataFrame(
        {
            "sample_id": samples,
            "condition": np.where(control, "ctrl__" + CONTROL_GROUP, first["condition"]),
            "role": np.where(control, "control", "perturbed"),
            "perturbation": first["perturbation"].to_numpy(),
            "perturbation_type": first["perturbation_type"].to_numpy(),
            "control_group": CONTROL_GROUP,
            "n_cells": n_cells.astype(int),
        }
    )
    report = pd.DataFrame(
        {
            "condition": sizes.index,
            "n_cells": sizes.to_numpy(),
            "status": np.where(sizes.index.isin(small.index), "fewer than min_cells", "kept"),
        }
    )
    report["n_samples"] = (
        report["condition"]
        .map(design.groupby(design["sample_id"].str.rsplit("__", n=1).str[0]).size())
        .fillna(0)
        .astype(int)
    )
    return expression, design, report
