"""Errors raised on bad input, naming where the problem is."""

from __future__ import annotations


class InputError(ValueError):
    """Bad input; the message names the dataset, the file, column or row, and gene where
    known."""

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        column: str | None = None,
        row: object | None = None,
        gene: str | None = None,
        dataset: str | None = None,
    ) -> None:
        self.message = message
        self.source, self.column, self.row, self.gene = source, column, row, gene
        self.dataset = dataset
        super().__init__(self._text())

    def _text(self) -> str:
        where = [
            f"{label} {value!r}"
            for label, value in (
                ("file", self.source),
                ("column", self.column),
                ("row", self.row),
                ("gene", self.gene),
            )
            if value is not None
        ]
        text = f"{self.message} ({', '.join(where)})" if where else self.message
        return f"dataset {self.dataset!r}: {text}" if self.dataset else text

    def locate(
        self, *, dataset: str | None = None, source: str | None = None, column: str | None = None
    ) -> None:
        """Name, after the fact, the dataset the error comes from and the user's file (and
        its column) where the raising code knew only an internal table."""
        self.dataset = dataset or self.dataset
        self.source = source or self.source
        self.column = column or self.column
        self.args = (self._text(),)
