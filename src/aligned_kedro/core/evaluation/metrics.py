"""Consistency metrics of section 3.1: macro F1 and the balanced consistency of Eq. 3."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from aligned_kedro.core._checks import check_probability, check_ternary
from aligned_kedro.core.errors import InputError

LABELS: tuple[int, int, int] = (-1, 0, 1)
LABEL_NAMES: dict[int, str] = {-1: "down", 0: "none", 1: "up"}
DEFAULT_GAMMA = 5.0
LABELS_HINT = "labels must be -1, 0 or 1"
COUNT_BLOCK = 1 << 22


def confusion_matrix(y_true: Any, y_pred: Any, *, source: str = "labels") -> np.ndarray:
    """3 x 3 counts, rows y_true and columns y_pred, both in the order (-1, 0, 1)."""
    true = np.asarray(y_true)
    pred = np.asarray(y_pred)
    if true.shape != pred.shape:
        raise InputError(
            f"y_true has shape {true.shape} but y_pred has shape {pred.shape}", source=source
        )
    if true.size == 0:
        raise InputError("cannot score empty label arrays", source=source)
    true, pred = (
        check_ternary(values, name, source=source, hint=LABELS_HINT).ravel()
        for values, name in ((true, "y_true"), (pred, "y_pred"))
    )
    counts = np.zeros(9, dtype=np.int64)
    for start in range(0, true.size, COUNT_BLOCK):
        block = slice(start, start + COUNT_BLOCK)
        code = 3 * true[block].astype(np.int8) + pred[block].astype(np.int8) + 4
        counts += np.bincount(code, minlength=9)
    return counts.reshape(3, 3)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    return np.divide(numerator, denominator, out=np.zeros(len(numerator)), where=denominator > 0)


def class_f1(counts: np.ndarray) -> np.ndarray:
    """Per-class F1 = 2 tp / (2 tp + fp + fn) of a 3 x 3 confusion matrix (rows truth), 0
    where the denominator is 0."""
    counts = np.asarray(counts, dtype=float)
    return _ratio(2 * np.diag(counts), counts.sum(axis=0) + counts.sum(axis=1))


def macro_f1(y_true: Any, y_pred: Any, *, source: str = "labels") -> dict[str, Any]:
    """Macro F1 over the fixed label set (-1, 0, 1), flattened over samples x genes (Eq. 3).

    Every class stays in the average. Per class, scikit-learn's zero_division=0 convention
    applies: precision is 0 when the class is never predicted, recall is 0 when it never
    occurs, and F1 = 2 tp / (2 tp + fp + fn) is 0 when that denominator is 0. A class absent
    from both y_true and y_pred therefore scores 0 and pulls the macro F1 down (it is not
    dropped). Returns f1 and per-class precision, recall, f1_per_class and support.

    Parameters
    ----------
    y_true, y_pred : array-like, same shape (e.g. (m, n))
        Labels in {-1, 0, 1}.
    source : str
        Named in errors.

    Returns
    -------
    dict
        ``f1`` (float) and, per label -1, 0, 1, ``precision``, ``recall``,
        ``f1_per_class`` and ``support``.
    """
    counts = confusion_matrix(y_true, y_pred, source=source)
    tp = np.diag(counts).astype(float)
    predicted = counts.sum(axis=0).astype(float)
    support = counts.sum(axis=1)
    precision = _ratio(tp, predicted)
    recall = _ratio(tp, support.astype(float))
    f1 = class_f1(counts)

    def per_class(values: np.ndarray) -> dict[int, float]:
        return {label: float(v) for label, v in zip(LABELS, values, strict=True)}

    return {
        "f1": float(f1.mean()),
        "precision": per_class(precision),
        "recall": per_class(recall),
        "f1_per_class": per_class(f1),
        "support": {label: int(s) for label, s in zip(LABELS, support, strict=True)},
    }


def data_consistency(y: Any, y_pred: Any) -> dict[str, Any]:
    """Data consistency F1(y, f(x)) of Eq. 3.

    Parameters
    ----------
    y : array-like, shape (m, n)
        Observed labels in {-1, 0, 1}.
    y_pred : array-like, shape (m, n)
        Predictions f(x) in {-1, 0, 1}.

    Returns
    -------
    dict
        As `macro_f1`.
    """
    return macro_f1(y, y_pred, source="data labels")


def knowledge_consistency(kb_pred: Any, y_pred: Any) -> dict[str, Any]:
    """Knowledge consistency F1(delta_KB(x), f(x)) of Eq. 3; kb_pred is the deduction of
    the ORIGINAL knowledge base.

    Parameters
    ----------
    kb_pred : array-like, shape (m, n)
        δ_KB(x) in {-1, 0, 1}.
    y_pred : array-like, shape (m, n)
        Predictions f(x) in {-1, 0, 1}.

    Returns
    -------
    dict
        As `macro_f1`.
    """
    return macro_f1(kb_pred, y_pred, source="knowledge base deduction")


def balanced_f1(f1_data: float, f1_kb: float, gamma: float = DEFAULT_GAMMA) -> float:
    """Balanced consistency (0.5 F1_data^-gamma + 0.5 F1_KB^-gamma)^(-1/gamma), Eq. 3.

    Returns 0.0, the limit, when either score is 0. gamma must exceed 1.

    Parameters
    ----------
    f1_data, f1_kb : float
        In [0, 1].
    gamma : float
        γ > 1; the larger, the closer to the minimum of the two.

    Returns
    -------
    float
        In [0, 1].
    """
    if not gamma > 1:
        raise InputError(f"gamma must be > 1, got {gamma}", source="balanced F1")
    check_probability(f1_data, "f1_data", source="balanced F1")
    check_probability(f1_kb, "f1_kb", source="balanced F1")
    if f1_data == 0 or f1_kb == 0:
        return 0.0
    low = min(f1_data, f1_kb)
    ratio_sum = 0.5 * (low / f1_data) ** gamma + 0.5 * (low / f1_kb) ** gamma
    return float(low * ratio_sum ** (-1.0 / gamma))


def consistency_scores(
    y: Any, y_pred: Any, kb_pred: Any, gamma: float = DEFAULT_GAMMA
) -> dict[str, float]:
    """Flat metric dict: data_f1, kb_f1, balanced_f1 (Eq. 3) and per-class
    {data,kb}_{precision,recall}_{down,none,up}.

    Parameters
    ----------
    y : array-like, shape (m, n)
        Observed labels in {-1, 0, 1}.
    y_pred : array-like, shape (m, n)
        Predictions f(x).
    kb_pred : array-like, shape (m, n)
        δ_KB(x) of the original KB.
    gamma : float
        γ of Eq. 3.

    Returns
    -------
    dict of str to float
    """
    data = data_consistency(y, y_pred)
    kb = knowledge_consistency(kb_pred, y_pred)
    scores = {
        "data_f1": data["f1"],
        "kb_f1": kb["f1"],
        "balanced_f1": balanced_f1(data["f1"], kb["f1"], gamma),
    }
    for prefix, result in (("data", data), ("kb", kb)):
        for label, name in LABEL_NAMES.items():
            scores[f"{prefix}_precision_{name}"] = result["precision"][label]
            scores[f"{prefix}_recall_{name}"] = result["recall"][label]
    return scores


def aggregate_seeds(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; 0.0 for one value) over seeds.

    Parameters
    ----------
    values : sequence of float, length s >= 1
        One finite value per seed.

    Returns
    -------
    mean, sd : float
    """
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or array.size == 0:
        raise InputError("need a non-empty 1-d sequence of values", source="seed results")
    if not np.isfinite(array).all():
        raise InputError("seed results must be finite numbers", source="seed results")
    sd = float(array.std(ddof=1)) if array.size > 1 else 0.0
    return float(array.mean()), sd


def aggregate_table(
    df: pd.DataFrame,
    by: str | Sequence[str],
    value_cols: Sequence[str],
    *,
    source: str = "results table",
) -> pd.DataFrame:
    """Per group of `by`: n and <col>_mean, <col>_sd (as `aggregate_seeds`) for each value
    column."""
    keys = [by] if isinstance(by, str) else list(by)
    for column in [*keys, *value_cols]:
        if column not in df.columns:
            raise InputError(f"missing column {column!r}", source=source, column=column)
    rows = []
    for key, group in df.groupby(keys, sort=True, dropna=False):
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
        row["n"] = len(group)
        for column in value_cols:
            try:
                mean, sd = aggregate_seeds(group[column].to_numpy(dtype=float))
            except (InputError, ValueError) as error:
                raise InputError(
                    f"cannot aggregate {column!r} for group {key!r}: {error}",
                    source=source,
                    column=column,
                    row=key,
                ) from error
            row[f"{column}_mean"], row[f"{column}_sd"] = mean, sd
        rows.append(row)
    columns = [*keys, "n", *(f"{c}_{s}" for c in value_cols for s in ("mean", "sd"))]
    return pd.DataFrame(rows, columns=columns)
