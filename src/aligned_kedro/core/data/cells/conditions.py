"""Per cell its condition, perturbed genes and perturbation type, from GEARS labels
(``ctrl``, ``A+ctrl``, ``A+B``) or scPerturb/pertpy ones (a configurable column, control
label(s) and guide delimiter)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from aligned_kedro.core.data.design import perturbation_type
from aligned_kedro.core.errors import InputError

Convention = Literal["gears", "scperturb"]
CONTROL_GROUP = "control"
CELL_COLUMNS = ("condition", "perturbation", "perturbation_type", "is_control")


@dataclass(frozen=True)
class _LabelRules:
    """How a perturbation label names its genes: control label(s), guide delimiter and
    convention, with the column and source that errors name."""

    controls: frozenset[str]
    folded: frozenset[str]
    delimiter: str
    convention: Convention
    column: str
    source: str

    @classmethod
    def build(
        cls,
        convention: Convention,
        control: str | Sequence[str],
        delimiter: str,
        column: str,
        source: str,
    ) -> _LabelRules:
        controls = {control} if isinstance(control, str) else set(control)
        if convention == "gears":
            controls, delimiter = {"ctrl"} | controls, "+"
        elif convention != "scperturb":
            raise InputError(
                f"unknown convention {convention!r}; expected 'gears' or 'scperturb'",
                source="parameters",
                column="convention",
            )
        folded = frozenset(c.lower() for c in controls)
        return cls(frozenset(controls), folded, delimiter, convention, column, source)

    def genes(self, text: str, cell: object) -> list[str]:
        """The perturbed genes of a label (none for a control); a token differing from a
        control label only in case, or (scPerturb) control and targeting guides in one
        label, raise naming the cell."""
        tokens = [t.strip() for t in text.split(self.delimiter) if t.strip()]
        where = {"source": self.source, "column": self.column, "row": cell}
        for token in tokens:
            if token.lower() in self.folded and token not in self.controls:
                raise InputError(
                    f"label {text!r} differs from the control label(s) "
                    f"{sorted(self.controls)} only in case: ambiguous control",
                    **where,
                )
        genes = [t for t in tokens if t not in self.controls]
        if self.convention == "scperturb" and genes and len(genes) < len(tokens):
            raise InputError(
                f"label {text!r} mixes control and targeting guides: ambiguous control",
                **where,
                gene=genes[0],
            )
        return genes


class _ConditionNames:
    """One condition name per gene set, its genes joined by ``+`` in first-seen order; a
    second order of one gene set (``A+B``, ``B+A``) raises unless merged."""

    def __init__(self, merge: bool, rules: _LabelRules) -> None:
        self.merge, self.rules = merge, rules
        self.names: dict[frozenset[str], str] = {}
        self.first: dict[frozenset[str], tuple[str, str]] = {}

    def name(self, genes: list[str], text: str, cell: object) -> str:
        key = frozenset(genes)
        name = self.names.setdefault(key, "+".join(dict.fromkeys(genes)))
        label, order = self.first.setdefault(key, (text, "+".join(genes)))
        if order != "+".join(genes) and not self.merge:
            raise InputError(
                f"labels {label!r} and {text!r} name the same perturbation: duplicated "
                "condition (set duplicate_conditions: merge to pool them)",
                source=self.rules.source,
                column=self.rules.column,
                row=cell,
                gene=name,
            )
        return name


def _check_type_source(
    obs: pd.DataFrame, type_column: str | None, default: str | None, source: str
) -> None:
    """A perturbation type per cell (``type_column``) or for all (``default``); never
    assumed."""
    if type_column is None and default is None:
        raise InputError(
            "no perturbation type: set data_processing.cells.perturbation_type (KO, KD "
            "(CRISPRi), OE (CRISPRa)) or type_column; knockdowns are never assumed",
            source="parameters",
            column="perturbation_type",
        )
    if type_column is not None and type_column not in obs.columns:
        raise InputError("no perturbation type column", source=source, column=type_column)


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

    Parameters
    ----------
    obs : pandas.DataFrame
        One row per cell (index: cell names) with the label `column` and, optionally,
        `type_column`.
    convention, column, control, delimiter, type_column, perturbation_type_default,
    duplicate_conditions
        As above.
    source : str
        The cell table named in errors.

    Returns
    -------
    pandas.DataFrame
        Indexed like `obs`: ``condition`` (``control`` for controls), ``perturbation``,
        ``perturbation_type`` and ``is_control``.
    """
    if column not in obs.columns:
        raise InputError(
            f"no perturbation column; found {list(obs.columns)}", source=source, column=column
        )
    rules = _LabelRules.build(convention, control, delimiter, column, source)
    _check_type_source(obs, type_column, perturbation_type_default, source)
    names = _ConditionNames(duplicate_conditions == "merge", rules)
    types: dict[object, str] = {}
    rows = []
    for cell, value in zip(obs.index, obs[column], strict=True):
        if pd.isna(value) or not str(value).strip():
            raise InputError("empty perturbation label", source=source, column=column, row=cell)
        text = str(value).strip()
        genes = rules.genes(text, cell)
        if not genes:
            rows.append((CONTROL_GROUP, "", "", True))
            continue
        name = names.name(genes, text, cell)
        raw_type = perturbation_type_default if type_column is None else obs.at[cell, type_column]
        if raw_type not in types:
            types[raw_type] = perturbation_type(raw_type, source=source, row=cell)
        rows.append((name, name, types[raw_type], False))
    table = pd.DataFrame(rows, index=obs.index, columns=list(CELL_COLUMNS))
    if not table["is_control"].any():
        raise InputError(
            f"no control cells: no label of column {column!r} is one of {sorted(rules.controls)}",
            source=source,
            column=column,
        )
    return table
