"""Errors raised on bad input, naming where the problem is."""

from __future__ import annotations

import numpy as np

TERNARY_HINT = "values must be -1, 0 or 1"


class InputError(ValueError):
    """Bad input; the message names the file, column or row, and gene where known."""

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        column: str | None = None,
        row: object | None = None,
        gene: str | None = None,
    ) -> None:
        self.source, self.column, self.row, self.gene = source, column, row, gene
        where = [
            f"{label} {value!r}"
            for label, value in (
                ("file", source),
                ("column", column),
                ("row", row),
                ("gene", gene),
            )
            if value is not None
        ]
        super().__init__(f"{message} ({', '.join(where)})" if where else message)


def require_ternary(array: np.ndarray, name: str, hint: str, source: str | None = None) -> None:
    """Numeric values in {-1, 0, 1}; the error names the first bad row and column, and
    `source` (default: `name`)."""
    source = name if source is None else source
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number):
        raise InputError(f"{name} must be numeric with values in {{-1, 0, 1}}", source=source)
    bad = ~np.isin(array, (-1, 0, 1))
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        raise InputError(
            f"{name} holds {array[row, col].item()!r} at column {col}; {hint}",
            source=source,
            row=row,
        )
