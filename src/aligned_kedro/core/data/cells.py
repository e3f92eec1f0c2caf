"""Single-cell perturbation screens as conditions, samples and labels (notes section 8).

Cells are read in the GEARS convention (``ctrl``, ``A+ctrl``, ``A+B``) or the
scPerturb/pertpy one (a configurable column, control label(s) and guide delimiter). The
default turns cells into pseudobulk samples, so that labels come from the same
differential-expression test as bulk data (`aligned_kedro.core.data.labels`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from aligned_kedro.core.data.labels import perturbation_type
from aligned_kedro.core.errors import InputError

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


def _checked_matrix(
    X: np.ndarray | sp.spmatrix, genes: Sequence[str], cells: pd.DataFrame, source: str
) -> sp.csr_matrix:
    """Cells x genes as CSR; a wrong shape or a negative, NaN or infinite value raises."""
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
    return matrix


def _condition_sizes(
    cells: pd.DataFrame, min_cells: int, too_few_cells: str, source: str, product: str
) -> tuple[pd.Series, pd.Series]:
    """Cells per condition, and the perturbed conditions with fewer than ``min_cells``
    (logged, or raised with ``too_few_cells: error``); too few control cells raise."""
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
        log.warning(
            "%s: %d conditions with fewer than %d cells dropped", product, len(small), min_cells
        )
    return sizes, small


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
    design table of `aligned_kedro.core.data.labels` and a per-condition report.

    Samples are the cells of a condition within one ``replicates`` value (e.g. a GEM
    group), or, without them, ``pseudo_replicates`` seeded random parts of the condition.
    ``counts`` are summed and turned into log2(CPM + pseudocount); ``log1p`` (natural
    log, scanpy) and ``log2`` values are averaged and expressed in log2. Conditions with
    fewer than ``min_cells`` cells are dropped and listed, or raise.
    """
    matrix = _checked_matrix(X, genes, cells, source)
    sizes, small = _condition_sizes(cells, min_cells, too_few_cells, source, "pseudobulk")
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


ROW_COLUMNS = ("row", "condition", "cell", "control_cell", "batch")


def _cell_values(
    matrix: sp.csr_matrix, library: np.ndarray, scale: Scale, target_sum: float
) -> np.ndarray:
    """Dense log2 values of a few cells: counts as log2(x / library * target_sum + 1)."""
    values = matrix.toarray()
    if scale == "counts":
        return np.log2(values / library[:, None] * target_sum + 1.0)
    return values / np.log(2) if scale == "log1p" else values


def _matched_controls(
    cells: pd.DataFrame,
    perturbed: np.ndarray,
    sampled: np.ndarray,
    batches: pd.Series | None,
    rng: np.random.Generator,
    batch_column: str | None,
    source: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Per sampled cell, a random control cell (with replacement) of its own batch; a
    perturbed cell in a batch without control cells raises."""
    controls = np.flatnonzero(cells["is_control"].to_numpy())
    if batches is None:
        draw = controls[rng.integers(len(controls), size=len(sampled))]
        return draw, np.full(len(sampled), "", dtype=object)
    batch = batches.astype(str).to_numpy()
    by_batch = {
        b: controls[i]
        for b, i in pd.Series(batch[controls]).groupby(batch[controls]).indices.items()
    }
    orphans = np.flatnonzero(perturbed & ~np.isin(batch, list(by_batch)))
    if len(orphans):
        cell = orphans[0]
        raise InputError(
            f"no control cells in batch {batch[cell]!r} of condition "
            f"{cells['condition'].iat[cell]!r} ({len(orphans)} perturbed cells in batches "
            "without controls): per-cell labels draw the control from the cell's own batch",
            source=source,
            column=batch_column,
            row=str(cells.index[cell]),
            gene=str(cells["condition"].iat[cell]),
        )
    matched = np.empty(len(sampled), dtype=np.int64)
    for value, where in pd.Series(batch[sampled]).groupby(batch[sampled]).indices.items():
        pool = by_batch[value]
        matched[where] = pool[rng.integers(len(pool), size=len(where))]
    return matched, batch[sampled].astype(object)


def per_cell_labels(
    X: np.ndarray | sp.spmatrix,
    genes: Sequence[str],
    cells: pd.DataFrame,
    *,
    scale: Scale = "counts",
    n_cells: int | None = 50,
    threshold: float = 1.0,
    target_sum: float = 1e4,
    batches: pd.Series | None = None,
    batch_column: str | None = None,
    min_cells: int = 10,
    too_few_cells: Literal["drop", "error"] = "drop",
    seed: int = 0,
    chunk: int = 1024,
    source: str = "cells",
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Per-cell labels y = sign(x_cell - x_control) where |x_cell - x_control| > threshold,
    else 0 (section 1 labels; notes section 8: the reference's per-cell labels use no
    threshold): one row per sampled perturbed cell, x on the log2 scale.

    ``n_cells`` cells of each condition are drawn with the seed (all of a smaller one;
    null: all); each is compared with a random control cell, of its own ``batches`` value
    when given (a perturbed cell in a batch without controls raises). ``counts`` become
    log2(x / library * target_sum + 1) per cell, ``log1p`` values log2. Conditions with
    fewer than ``min_cells`` cells are dropped as in `pseudobulk`. Only the sampled cells
    and their controls are made dense, ``chunk`` rows at a time.

    Returns the labels (rows x genes, int8), the rows (``row`` = ``<condition>@<cell>``,
    condition, cell, control_cell, batch) and per condition its cells and sampled cells
    (``n_sampled``; for the controls, the distinct control cells drawn).
    """
    if scale not in ("counts", "log1p", "log2"):
        raise InputError(
            f"unknown scale {scale!r}; expected counts, log1p or log2",
            source="parameters",
            column="scale",
        )
    if not threshold >= 0:
        raise InputError(
            f"threshold must be >= 0, got {threshold}", source="parameters", column="threshold"
        )
    if n_cells is not None and n_cells < 1:
        raise InputError(
            f"n_cells must be at least 1 or null, got {n_cells}",
            source="parameters",
            column="n_cells",
        )
    matrix = _checked_matrix(X, genes, cells, source)
    sizes, small = _condition_sizes(cells, min_cells, too_few_cells, source, "per-cell labels")
    rng = np.random.default_rng(seed)
    dropped = cells["condition"].isin(small.index).to_numpy()
    perturbed = ~cells["is_control"].to_numpy() & ~dropped
    positions = np.flatnonzero(perturbed)
    picks = [np.empty(0, dtype=np.int64)]
    for index in cells.iloc[positions].groupby("condition", sort=True).indices.values():
        chosen = positions[index]
        if n_cells is not None and len(chosen) > n_cells:
            chosen = np.sort(rng.choice(chosen, size=n_cells, replace=False))
        picks.append(chosen)
    sampled = np.concatenate(picks)
    matched, batch = _matched_controls(
        cells, perturbed, sampled, batches, rng, batch_column, source
    )
    library = np.asarray(matrix.sum(axis=1)).ravel()
    library[library == 0] = 1.0
    labels = np.zeros((len(sampled), len(genes)), dtype=np.int8)
    for start in range(0, len(sampled), chunk):
        a, b = sampled[start : start + chunk], matched[start : start + chunk]
        diff = _cell_values(matrix[a], library[a], scale, target_sum) - _cell_values(
            matrix[b], library[b], scale, target_sum
        )
        labels[start : start + chunk] = np.where(np.abs(diff) > threshold, np.sign(diff), 0)
    condition = cells["condition"].to_numpy()[sampled]
    cell = cells.index.to_numpy()[sampled].astype(str)
    rows = pd.DataFrame(
        {
            "row": pd.Series(condition, dtype=object) + "@" + cell,
            "condition": condition,
            "cell": cell,
            "control_cell": cells.index.to_numpy()[matched].astype(str),
            "batch": batch,
        }
    )
    if rows["row"].duplicated().any():
        duplicated = rows.loc[rows["row"].duplicated(), "cell"].iloc[0]
        raise InputError("duplicate cell name in obs", source=source, row=duplicated)
    table = pd.DataFrame(labels, index=pd.Index(rows["row"], name="row"), columns=list(genes))
    report = pd.DataFrame({"condition": sizes.index, "n_cells": sizes.to_numpy()})
    report["n_sampled"] = report["condition"].map(rows["condition"].value_counts())
    report.loc[report["condition"].eq(CONTROL_GROUP), "n_sampled"] = rows["control_cell"].nunique()
    report["n_sampled"] = report["n_sampled"].fillna(0).astype(int)
    not_sampled = int(perturbed.sum()) - len(rows)
    log.info(
        "per-cell labels: %d cells of %d conditions sampled (n_cells = %s), %d cells of these "
        "conditions not sampled, %d distinct control cells; %d labels down, %d up of %d",
        len(rows),
        rows["condition"].nunique(),
        n_cells,
        not_sampled,
        rows["control_cell"].nunique(),
        int((labels == -1).sum()),
        int((labels == 1).sum()),
        labels.size,
    )
    return table, rows, report
