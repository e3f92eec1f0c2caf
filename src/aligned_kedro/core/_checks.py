"""One validation layer for arrays and scalars, scikit-learn style: each check returns the
value it accepted (converted where asked) or raises `InputError` naming the parameter, the
source and, for matrices, the first bad row and column."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from aligned_kedro.core.errors import InputError

TERNARY = (-1, 0, 1)
TERNARY_HINT = "values must be -1, 0 or 1"
PERTURBATION_HINT = "a perturbation is -1 (knockout/knockdown), 0 (untouched) or 1 (overexpression)"


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_numeric(dtype: np.dtype) -> bool:
    return np.issubdtype(dtype, np.number)


def _all_ternary(data: np.ndarray) -> bool:
    """Every value is -1, 0 or 1: integers by their range, floats as their own sign (NaN
    is not); no temporary the size of `data` for integers (millions of labels per call)."""
    if data.size == 0:
        return True
    if np.issubdtype(data.dtype, np.integer):
        return bool(data.min() >= -1 and data.max() <= 1)
    return bool(np.array_equal(data, np.sign(data)))


def _first_bad(values: np.ndarray | sp.spmatrix, bad: np.ndarray) -> tuple[tuple[int, ...], object]:
    """Index and value of the first True of `bad` (positions of the stored entries of a
    sparse matrix, of every entry of a dense array)."""
    if sp.issparse(values):
        coo = values.tocoo()
        order = np.lexsort((coo.col, coo.row))
        first = order[bad[order]][0]
        return (int(coo.row[first]), int(coo.col[first])), coo.data[first].item()
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    return index, values[index].item()


def check_ternary(
    values: Any,
    name: str,
    *,
    shape: tuple[int, ...] | None = None,
    source: str | None = None,
    hint: str = TERNARY_HINT,
    genes: Sequence[str] | None = None,
    dtype: Any = None,
    sparse: bool = False,
) -> Any:
    """Numeric values in {-1, 0, 1}, of `shape` when given.

    Parameters
    ----------
    values : array-like or scipy.sparse matrix
        Any shape; labels, deductions or perturbations.
    name : str
        The parameter's name, first word of every message.
    shape : tuple of int, optional
        The exact shape expected.
    source : str, optional
        Where the values come from (default: `name`).
    hint : str
        What a valid value is, appended to the message on a value outside {-1, 0, 1}.
    genes : sequence of str, optional
        Gene names of the columns, so a bad value names its gene.
    dtype : numpy dtype, optional
        Convert the accepted values to it (default: keep).
    sparse : bool
        Keep a sparse input sparse (CSR) and check only its stored entries; otherwise it
        is made dense.

    Returns
    -------
    numpy.ndarray or scipy.sparse.csr_matrix
        The values, same shape; the error names the first bad row and column.
    """
    source = name if source is None else source
    if sp.issparse(values):
        array = sp.csr_matrix(values) if sparse else values.toarray()
    else:
        array = np.asarray(values)
    if shape is not None and array.shape != tuple(shape):
        raise InputError(f"{name} has shape {array.shape}, expected {tuple(shape)}", source=source)
    if not _is_numeric(array.dtype):
        raise InputError(f"{name} must be numeric with values in {{-1, 0, 1}}", source=source)
    data = array.data if sp.issparse(array) else array
    if not _all_ternary(data):
        bad = ~np.isin(data, TERNARY)
        index, value = _first_bad(array, bad)
        if len(index) == 2:
            row, col = index
            raise InputError(
                f"{name} holds {value!r} at column {col}; {hint}",
                source=source,
                row=row,
                gene=None if genes is None else str(genes[col]),
            )
        raise InputError(f"{name} holds {value!r} at {index}; {hint}", source=source, row=index)
    return array if dtype is None else array.astype(dtype)


def check_label_matrix(
    values: Any, name: str, *, source: str | None = None, dtype: Any = None
) -> np.ndarray:
    """A non-empty m x n matrix of labels in {-1, 0, 1} (`check_ternary`).

    Parameters
    ----------
    values : array-like or scipy.sparse matrix, shape (m, n), m >= 1
    name : str
    source : str, optional
    dtype : numpy dtype, optional

    Returns
    -------
    numpy.ndarray, shape (m, n)
    """
    source = name if source is None else source
    array = values.toarray() if sp.issparse(values) else np.asarray(values)
    if array.ndim != 2 or array.shape[0] == 0:
        raise InputError(
            f"{name} must be a non-empty m x n matrix, got shape {array.shape}", source=source
        )
    return check_ternary(array, name, source=source, dtype=dtype)


def check_perturbations(
    X: Any,
    n_genes: int,
    *,
    name: str = "X",
    source: str | None = None,
    genes: Sequence[str] | None = None,
) -> np.ndarray:
    """Perturbations x in {-1, 0, 1}^n (section 2.1), each row perturbing at least one gene.

    Parameters
    ----------
    X : array-like or scipy.sparse matrix, shape (m, n_genes)
        -1 knockout/knockdown, 1 overexpression, 0 untouched.
    n_genes : int
        n, the number of genes the caller models.
    name : str
    source : str, optional
    genes : sequence of str, optional
        Gene names of the columns.

    Returns
    -------
    numpy.ndarray, shape (m, n_genes), float32
    """
    source = name if source is None else source
    array = X.toarray() if sp.issparse(X) else np.asarray(X)
    if array.ndim != 2:
        raise InputError(
            f"{name} must be a 2-d m x n matrix, got shape {array.shape}", source=source
        )
    if array.shape[1] != n_genes:
        raise InputError(
            f"{name} has {array.shape[1]} columns but the model has {n_genes} genes",
            source=source,
        )
    check_ternary(array, name, source=source, hint=PERTURBATION_HINT, genes=genes)
    empty = np.flatnonzero(~array.any(axis=1))
    if len(empty):
        raise InputError(
            f"{name} row {int(empty[0])} perturbs no gene; an empty input cannot be predicted"
            f" ({len(empty)} such row(s))",
            source=source,
            row=int(empty[0]),
        )
    return array.astype(np.float32)


def check_non_negative_int(value: Any, name: str, *, source: str | None = None) -> int:
    """An integer >= 0 (a bool is not one)."""
    if not _is_int(value) or value < 0:
        raise InputError(f"{name} must be a non-negative integer, got {value!r}", source=source)
    return int(value)


def check_k(k: Any, *, source: str | None = None) -> int:
    """The deduction depth k of R±(k) (section 2.2): an integer >= 0."""
    return check_non_negative_int(k, "k", source=source)


def check_positive_int(
    value: Any, name: str, *, source: str | None = None, allow_none: bool = False
) -> int | None:
    """An integer >= 1 (a bool is not one), or None where `allow_none`."""
    if value is None and allow_none:
        return None
    if not _is_int(value) or value < 1:
        alternative = " or None" if allow_none else ""
        raise InputError(
            f"{name} must be a positive integer{alternative}, got {value!r}", source=source
        )
    return int(value)


def check_probability(value: Any, name: str, *, source: str | None = None) -> float:
    """A real number in [0, 1]."""
    if np.ndim(value) != 0 or not _is_numeric(np.asarray(value).dtype):
        raise InputError(f"{name} must be a number in [0, 1], got {value!r}", source=source)
    if not 0 <= value <= 1:
        raise InputError(f"{name} must lie in [0, 1], got {value}", source=source)
    return float(value)


def check_probabilities(
    values: Any,
    name: str,
    *,
    shape: tuple[int, ...] | None = None,
    source: str | None = None,
) -> np.ndarray:
    """Finite values in [0, 1], of `shape` when given.

    Parameters
    ----------
    values : array-like
    name : str
    shape : tuple of int, optional
    source : str, optional

    Returns
    -------
    numpy.ndarray, float64, same shape; the error names the first bad index (the gene
    index of a vector).
    """
    source = name if source is None else source
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise InputError(f"{name} must hold numbers in [0, 1]", source=source) from error
    if shape is not None and array.shape != tuple(shape):
        raise InputError(f"{name} has shape {array.shape}, expected {tuple(shape)}", source=source)
    bad = ~np.isfinite(array) | (array < 0) | (array > 1)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        where = f"gene index {index[0]}" if array.ndim == 1 else f"index {index}"
        raise InputError(
            f"{name} must lie in [0, 1]; {where} has {array[index].item()!r}", source=source
        )
    return array


def check_gene_mask(
    mask: Any, n: int, name: str = "measured", *, source: str | None = None
) -> np.ndarray:
    """A boolean vector over the n genes (e.g. True for the measured ones); None is all
    True."""
    if mask is None:
        return np.ones(n, dtype=bool)
    values = np.asarray(mask)
    if values.shape != (n,) or values.dtype != bool:
        raise InputError(
            f"{name} must be a boolean vector of {n} genes, got {values.dtype} of shape "
            f"{values.shape}",
            source=source,
        )
    return values
