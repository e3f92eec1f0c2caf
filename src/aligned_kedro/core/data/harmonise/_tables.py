"""Column checks, value parsing and the drop report that every GRN format shares."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from aligned_kedro.core.errors import InputError
from aligned_kedro.core.knowledge.kb import checked_confidence

REPORT_COLUMNS = ["action", "reason", "rows"]


def require_columns(table: pd.DataFrame, columns: Sequence[str], source: str) -> None:
    """InputError naming the first of `columns` missing from `table`."""
    for column in columns:
        if column not in table.columns:
            raise InputError(
                f"missing column; expected {list(columns)}, found {list(table.columns)}",
                source=source,
                column=column,
            )


def truthy(column: pd.Series, source: str) -> pd.Series:
    """0/1, true/false (any case) as booleans; anything else raises naming the row."""
    text = column.astype(str).str.strip().str.lower()
    known = text.isin(["1", "0", "true", "false", "1.0", "0.0"])
    if not known.all():
        row = int(np.flatnonzero(~known.to_numpy())[0])
        raise InputError(
            f"expected 0/1 or true/false, found {column.iloc[row]!r}",
            source=source,
            column=str(column.name),
            row=row,
        )
    return text.isin(["1", "true", "1.0"])


def effect_from_sign(values: pd.Series, source: str, gene: pd.Series) -> pd.Series:
    """``+`` / ``-`` / ``?`` by the sign of numeric `values`; a non-number raises naming its
    row and its regulator (`gene`)."""
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.isna().any():
        row = int(np.flatnonzero(numbers.isna().to_numpy())[0])
        raise InputError(
            f"non-numeric sign {values.iloc[row]!r}",
            source=source,
            column=str(values.name),
            row=row,
            gene=str(gene.iloc[row]),
        )
    return pd.Series(np.select([numbers > 0, numbers < 0], ["+", "-"], "?"), index=values.index)


def effect_table(
    regulator: pd.Series, target: pd.Series, effect: object, confidence: object = None
) -> pd.DataFrame:
    """The normalised ``regulator, target, effect`` table every format produces, with a
    ``confidence`` column in [0, 1] when the source gives one."""
    table = pd.DataFrame({"regulator": regulator, "target": target, "effect": effect})
    return table if confidence is None else table.assign(confidence=confidence)


def level_confidence(
    values: pd.Series, levels: dict[str, float], source: str, gene: pd.Series
) -> pd.Series:
    """Confidence in [0, 1] of named evidence levels (any case; empty: unknown); an
    unknown level raises naming its row and regulator."""
    text = values.astype(str).str.strip().str.lower()
    empty = values.isna() | text.isin(["", "nan"])
    found = text.map({name.lower(): value for name, value in levels.items()})
    _refuse_first(
        values,
        found.isna() & ~empty,
        f"unknown evidence level {{!r}}; expected one of {list(levels)}",
        source,
        gene,
    )
    return found.astype(np.float64)


def count_confidence(values: pd.Series, half: float, source: str, gene: pd.Series) -> pd.Series:
    """Confidence in [0, 1) of a count of support (curation effort, references):
    x / (x + half), half confidence at `half`; a negative or non-numeric count raises."""
    numbers = pd.to_numeric(values, errors="coerce")
    bad = (numbers.isna() & values.notna()) | (numbers < 0)
    _refuse_first(values, bad, "expected a non-negative count, found {!r}", source, gene)
    return (numbers / (numbers + half)).astype(np.float64)


def _refuse_first(
    values: pd.Series, bad: pd.Series, message: str, source: str, gene: pd.Series
) -> None:
    """Raise `InputError` for the first bad row: `message` formatted with its value, naming
    the column, the row and its regulator."""
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            message.format(values.iloc[row]),
            source=source,
            column=str(values.name),
            row=row,
            gene=str(gene.iloc[row]),
        )


def given_confidence(raw: pd.DataFrame, source: str) -> pd.Series | None:
    """A table's own ``confidence`` column, numbers in [0, 1] (`checked_confidence`), or
    None."""
    return checked_confidence(raw, source) if "confidence" in raw.columns else None


class Report:
    """Rows ``action, reason, rows`` telling what a harmonisation step dropped, merged or
    expanded."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, int]] = []

    def add(self, action: str, reason: str, rows: int) -> None:
        self.lines.append((action, reason, int(rows)))

    def keep(self, mask: pd.Series, reason: str, table: pd.DataFrame) -> pd.DataFrame:
        """The rows of `table` where `mask` holds; the others are counted under `reason`."""
        n = int((~mask).sum())
        if n:
            self.add("dropped", reason, n)
        return table[mask.to_numpy()]

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.lines, columns=REPORT_COLUMNS)
