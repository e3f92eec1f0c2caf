"""Errors raised on bad input, naming where the problem is."""

from __future__ import annotations


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
