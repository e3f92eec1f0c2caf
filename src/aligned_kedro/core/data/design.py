"""The design table: its checks against the expression table, its perturbed conditions
and their perturbation types, which conditions can be labelled, and the unlabelled
inputs X_u (section 2.1)."""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from aligned_kedro.core.errors import InputError

log = logging.getLogger(__name__)

DESIGN_COLUMNS: tuple[str, ...] = (
    "sample_id",
    "condition",
    "role",
    "perturbation",
    "perturbation_type",
    "control_group",
)
ROLES: tuple[str, ...] = ("perturbed", "control")
PERTURBATION_SIGN: dict[str, int] = {"KO": -1, "KD": -1, "OE": 1}
PERTURBATION_TYPE_ALIASES: dict[str, str] = {
    **{name: "KO" for name in ("ko", "knockout", "crispr", "crisprko", "crispr-ko", "deletion")},
    **{name: "KD" for name in ("kd", "knockdown", "crispri", "shrna", "sirna", "rnai")},
    **{name: "OE" for name in ("oe", "overexpression", "crispra", "orf", "activation")},
}

DEFAULT_EXPRESSION_SOURCE = "expression table"
DEFAULT_DESIGN_SOURCE = "design table"


@dataclass(frozen=True)
class Condition:
    """One perturbed condition: its perturbation and the samples it is compared on."""

    name: str
    perturbation: tuple[str, ...]
    perturbation_type: tuple[str, ...]
    control_group: str
    perturbed_samples: tuple[str, ...]
    control_samples: tuple[str, ...]


def _text(series: pd.Series) -> pd.Series:
    return series.fillna("").astype(str).str.strip()


def _split_plus(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split("+")) if value else ()


def _normalised_design(design: pd.DataFrame, source: str) -> pd.DataFrame:
    missing = [column for column in DESIGN_COLUMNS if column not in design.columns]
    if missing:
        raise InputError(
            f"design is missing column(s) {missing}; expected {list(DESIGN_COLUMNS)}",
            source=source,
            column=missing[0],
        )
    table = pd.DataFrame({column: _text(design[column]) for column in DESIGN_COLUMNS})
    return table.assign(role=_roles(table, source))


def _roles(design: pd.DataFrame, source: str) -> pd.Series:
    """The ``role`` column in lower case. Any value other than ``perturbed`` or
    ``control`` (in any case) is refused, naming the first such row and every value found:
    a misspelled control would otherwise drop its samples without a word."""
    roles = _text(design["role"]).str.lower()
    unknown = roles.index[~roles.isin(ROLES)]
    if len(unknown):
        counts = _text(design.loc[unknown, "role"]).value_counts()
        found = ", ".join(f"{value!r} ({n} rows)" for value, n in counts.items())
        first = unknown[0]
        raise InputError(
            f"role must be one of {list(ROLES)} (in any case); found {found}",
            source=source,
            column="role",
            row=design.loc[first, "sample_id"] if "sample_id" in design else first,
        )
    return roles


def _check_expression_labels(expression: pd.DataFrame, source: str) -> None:
    samples = pd.Index(expression.columns.astype(str))
    duplicated = samples[samples.duplicated()].unique()
    if len(duplicated):
        raise InputError(
            f"duplicate sample column {duplicated[0]!r} in expression",
            source=source,
            column=str(duplicated[0]),
        )
    genes = pd.Index(expression.index.astype(str))
    duplicated = genes[genes.duplicated()].unique()
    if len(duplicated):
        raise InputError(
            f"duplicate gene {duplicated[0]!r} in expression rows",
            source=source,
            row=str(duplicated[0]),
            gene=str(duplicated[0]),
        )


def _check_expression_values(expression: pd.DataFrame, samples: Sequence[str], source: str) -> None:
    columns = pd.Index(expression.columns.astype(str))
    for sample in samples:
        values = expression.iloc[:, columns.get_loc(sample)]
        if not is_numeric_dtype(values) or is_bool_dtype(values):
            coerced = pd.to_numeric(values, errors="coerce")
            bad = values.index[coerced.isna() & values.notna()]
            if len(bad):
                gene = str(bad[0])
                raise InputError(
                    f"non-numeric expression value {values.loc[bad[0]]!r} "
                    f"for gene {gene!r} in sample {sample!r}",
                    source=source,
                    column=sample,
                    row=gene,
                    gene=gene,
                )
            values = coerced
        finite = np.isfinite(values.to_numpy(dtype=float))
        if not finite.all():
            gene = str(values.index[np.argmin(finite)])
            raise InputError(
                f"missing or non-finite expression value for gene {gene!r} in sample {sample!r}",
                source=source,
                column=sample,
                row=gene,
                gene=gene,
            )


def _conditions(table: pd.DataFrame, source: str, *, check_controls: bool) -> list[Condition]:
    perturbed = table[table["role"] == "perturbed"]
    controls = table[table["role"] == "control"]
    shared = sorted(set(perturbed["condition"]) & set(controls["condition"]))
    if shared:
        raise InputError(
            f"condition {shared[0]!r} is used by both perturbed and control samples; "
            "give controls their own condition id and link them through control_group",
            source=source,
            column="condition",
            row=shared[0],
        )
    result: list[Condition] = []
    for name, rows in perturbed.groupby("condition", sort=False):
        name = str(name)
        for column in ("control_group", "perturbation", "perturbation_type"):
            values = rows[column].unique()
            if len(values) > 1:
                raise InputError(
                    f"condition {name!r} has inconsistent {column} values {sorted(values)}",
                    source=source,
                    column=column,
                    row=name,
                )
        first = rows.iloc[0]
        group = first["control_group"]
        control_samples = tuple(controls.loc[controls["control_group"] == group, "sample_id"])
        if check_controls and not control_samples:
            raise InputError(
                f"condition {name!r} has no control samples in its control_group {group!r}",
                source=source,
                column="control_group",
                row=name,
            )
        result.append(
            Condition(
                name=name,
                perturbation=_split_plus(first["perturbation"]),
                perturbation_type=_split_plus(first["perturbation_type"]),
                control_group=group,
                perturbed_samples=tuple(rows["sample_id"]),
                control_samples=control_samples,
            )
        )
    return result


def _check_rows(table: pd.DataFrame, expression_samples: pd.Index | None, source: str) -> None:
    """Unique non-empty sample ids present in the expression, then each row (roles are
    checked by `_normalised_design`)."""
    empty = table.loc[table["sample_id"] == ""]
    if len(empty):
        raise InputError(
            f"empty sample_id in design row {empty.index[0]!r}",
            source=source,
            column="sample_id",
            row=empty.index[0],
        )
    duplicated = table.loc[table["sample_id"].duplicated(), "sample_id"].unique()
    if len(duplicated):
        raise InputError(
            f"duplicate sample {duplicated[0]!r} in design",
            source=source,
            column="sample_id",
            row=duplicated[0],
        )
    if expression_samples is not None:
        known = set(expression_samples)
        absent = [s for s in table["sample_id"] if s not in known]
        if absent:
            raise InputError(
                f"design sample(s) {absent} are absent from the expression columns",
                source=source,
                column="sample_id",
                row=absent[0],
            )
    for row in table.itertuples(index=False):
        _check_row(row, source)


def _check_row(row: Any, source: str) -> None:
    """One design row: condition and control group named, known perturbation types, and
    for a perturbed sample its genes with one type each or one for all."""
    sample = row.sample_id
    if row.condition == "" or row.control_group == "":
        column = "condition" if row.condition == "" else "control_group"
        raise InputError(
            f"empty {column} for sample {sample!r}", source=source, column=column, row=sample
        )
    types = _split_plus(row.perturbation_type)
    for kind in types:
        if kind not in PERTURBATION_SIGN:
            raise InputError(
                f"unknown perturbation_type {kind!r} for sample {sample!r} of condition "
                f"{row.condition!r} (perturbation {row.perturbation!r}); expected one of "
                f"{sorted(PERTURBATION_SIGN)}",
                source=source,
                column="perturbation_type",
                row=sample,
                gene=row.perturbation or None,
            )
    if row.role == "control":
        return
    genes = _split_plus(row.perturbation)
    if not genes or "" in genes:
        raise InputError(
            f"perturbed sample {sample!r} of condition {row.condition!r} names no "
            f"perturbed gene ({row.perturbation!r})",
            source=source,
            column="perturbation",
            row=sample,
        )
    if not types or len(types) not in (1, len(genes)):
        raise InputError(
            f"perturbation_type {row.perturbation_type!r} of sample {sample!r} (condition "
            f"{row.condition!r}) must be one of {sorted(PERTURBATION_SIGN)} or one per "
            f"gene of {row.perturbation!r}",
            source=source,
            column="perturbation_type",
            row=sample,
            gene=row.perturbation,
        )


def validate_design(
    expression: pd.DataFrame,
    design: pd.DataFrame,
    source_expression: str = DEFAULT_EXPRESSION_SOURCE,
    source_design: str = DEFAULT_DESIGN_SOURCE,
) -> None:
    """Check the expression table (genes x samples) and the design table against each other.

    Expression columns not named in the design are ignored (not checked for values).
    """
    table = _normalised_design(design, source_design)
    _check_expression_labels(expression, source_expression)
    samples = pd.Index(expression.columns.astype(str))
    _check_rows(table, samples, source_design)
    _conditions(table, source_design, check_controls=True)
    _check_expression_values(expression, list(table["sample_id"]), source_expression)


def design_conditions(
    design: pd.DataFrame, *, source: str = DEFAULT_DESIGN_SOURCE
) -> list[Condition]:
    """Perturbed conditions of a design, in order of first appearance."""
    table = _normalised_design(design, source)
    _check_rows(table, None, source)
    return _conditions(table, source, check_controls=False)


def perturbation_type(value: object, *, source: str, row: object = None) -> str:
    """KO, KD or OE from a perturbation type or its usual names: knockout and CRISPR KO are
    KO (-1), knockdown and CRISPRi are KD (-1), overexpression and CRISPRa are OE (+1)."""
    found = PERTURBATION_TYPE_ALIASES.get(str(value).strip().lower())
    if found is None:
        raise InputError(
            f"unknown perturbation type {value!r}; expected one of "
            f"{sorted(PERTURBATION_TYPE_ALIASES)}",
            source=source,
            column="perturbation_type",
            row=row,
        )
    return found


SELECTION_COLUMNS = (
    "condition",
    "perturbation",
    "control_group",
    "n_perturbed",
    "n_control",
    "status",
    "detail",
)
UNKNOWN_NAME = "unknown gene name"
NOT_MEASURED = "perturbed gene neither measured nor in the KB"
KB_GENE_DROPPED = "perturbed KB gene not measured (universe.kb_genes: drop)"
PERTURBATION_STATUSES = (UNKNOWN_NAME, NOT_MEASURED, KB_GENE_DROPPED)


def perturbation_coverage(
    design: pd.DataFrame,
    *,
    measured: Collection[str],
    kb_genes: Collection[str],
    latent: bool,
    unknown: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Whether each perturbed condition's genes can be inputs x: measured genes, and
    unmeasured KB genes when they are kept as latent genes (``latent``).

    Parameters
    ----------
    design : pandas.DataFrame
        The design with ``perturbation`` in gene IDs (`resolve_perturbations`; unknown
        names as written).
    measured : collection of str
        The measured gene IDs.
    kb_genes : collection of str
        The gene IDs with a KB edge.
    latent : bool
        Unmeasured KB genes are latent genes of the universe (else they are dropped).
    unknown : pandas.DataFrame, optional
        `unknown_perturbations`: ``condition, name, closest``.

    Returns
    -------
    pandas.DataFrame
        One row per perturbed condition that cannot be used as it is, or that perturbs a
        latent gene: ``condition, status, detail``; ``status`` is one of
        `PERTURBATION_STATUSES`, or ``kept`` for a latent input; ``detail`` names the
        genes (with the closest known names of an unknown one).
    """
    measured, kb_genes = set(measured), set(kb_genes)
    names: dict[tuple[str, str], str] = {}
    if unknown is not None:
        for row in unknown.itertuples(index=False):
            close = f" (closest: {row.closest.replace(';', ', ')})" if row.closest else ""
            names[(str(row.condition), str(row.name))] = f"{row.name}{close}"
    perturbed = design[_text(design["role"]).str.lower().eq("perturbed")]
    perturbed = perturbed.drop_duplicates("condition")
    rows = []
    for condition, value in zip(perturbed["condition"], perturbed["perturbation"], strict=True):
        found: dict[str, list[str]] = {}
        for gene in _split_plus(str(value)) if isinstance(value, str) else ():
            if (str(condition), gene) in names:
                found.setdefault(UNKNOWN_NAME, []).append(names[(str(condition), gene)])
            elif gene in measured:
                continue
            elif gene not in kb_genes:
                found.setdefault(NOT_MEASURED, []).append(gene)
            else:
                found.setdefault("kept" if latent else KB_GENE_DROPPED, []).append(gene)
        status = next((s for s in PERTURBATION_STATUSES if s in found), "kept")
        if found:
            detail = found[status] if status != "kept" else found["kept"]
            prefix = "latent input: " if status == "kept" else ""
            rows.append((str(condition), status, prefix + ", ".join(detail)))
    return pd.DataFrame(rows, columns=["condition", "status", "detail"])


def _status(samples: pd.DataFrame, n_control: int, require_background_match: bool) -> str:
    """Whether a perturbed condition (its design rows) can be tested against its
    `n_control` control samples, or why not."""
    matched = samples.get("background_matched", pd.Series(["True"])).astype(str).iloc[0]
    if n_control == 0:
        return "no control samples"
    if len(samples) + n_control < 3:
        return "no residual degree of freedom"
    if require_background_match and matched.lower() not in ("true", "1"):
        return "controls of another strain background"
    return "kept"


def _refused(
    condition: object, status: str, detail: str, perturbation: object, source: str
) -> InputError:
    """The error of a condition that a ``error`` policy refuses."""
    if status not in PERTURBATION_STATUSES:
        return InputError(
            f"condition cannot be tested: {status}",
            source=source,
            column="control_group",
            row=condition,
            gene=str(perturbation),
        )
    return InputError(
        f"condition cannot be used: {status}: {detail} (set "
        "data_processing.conditions.unknown_perturbation: drop to drop such conditions)",
        source=source,
        column="perturbation",
        row=condition,
        gene=str(perturbation),
    )


def select_conditions(
    design: pd.DataFrame,
    *,
    missing_control: Literal["drop", "error"] = "error",
    require_background_match: bool = False,
    untestable: Literal["drop", "error"] = "error",
    coverage: pd.DataFrame | None = None,
    unknown_perturbation: Literal["drop", "error"] = "error",
    source: str = "design table",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep the perturbed conditions that can be tested against their controls and whose
    perturbed genes can be inputs.

    A condition needs a control group with samples, and at least one residual degree of
    freedom (perturbed + control samples >= 3). ``require_background_match`` also drops
    conditions whose controls come from another strain background; ``coverage``
    (`perturbation_coverage`) marks conditions whose perturbed gene is an unknown name or
    a gene that is neither measured nor kept in the universe. Each drop is allowed by a
    parameter, logged and listed in the returned report; otherwise it raises.

    Parameters
    ----------
    design : pandas.DataFrame
        The design table; ``background_matched`` is optional.
    missing_control, untestable : {"error", "drop"}
        What a condition without controls, or without a residual degree of freedom, does.
    require_background_match : bool
    coverage : pandas.DataFrame, optional
        ``condition, status, detail`` of `perturbation_coverage`.
    unknown_perturbation : {"error", "drop"}
        What a condition that `coverage` marks does.
    source : str
        Named in errors.

    Returns
    -------
    design : pandas.DataFrame
        The rows of the kept conditions and of the control groups they use.
    report : pandas.DataFrame
        Per perturbed condition: ``condition, perturbation, control_group, n_perturbed,
        n_control, status, detail``.
    """
    for column in ("sample_id", "condition", "role", "control_group"):
        if column not in design.columns:
            raise InputError("missing column", source=source, column=column)
    design = design.assign(role=_roles(design, source))
    groups = design["control_group"].fillna("").astype(str)
    controls = design[design["role"].eq("control")].groupby(groups)["sample_id"].size()
    perturbed = design[design["role"].eq("perturbed")]
    covered = (
        coverage.set_index("condition")[["status", "detail"]]
        if coverage is not None and len(coverage)
        else pd.DataFrame(columns=["status", "detail"])
    )
    policies = {
        "no control samples": missing_control,
        "no residual degree of freedom": untestable,
        "controls of another strain background": "drop",
        **dict.fromkeys(PERTURBATION_STATUSES, unknown_perturbation),
        "kept": "keep",
    }
    rows = []
    for condition, samples in perturbed.groupby("condition", sort=True):
        group = str(groups[samples.index[0]])
        n_control = int(controls.get(group, 0)) if group else 0
        status, detail = (
            tuple(covered.loc[condition]) if condition in covered.index else ("kept", "")
        )
        if status == "kept":
            status = _status(samples, n_control, require_background_match)
        perturbation = samples.get("perturbation", pd.Series([""])).iloc[0]
        if policies[status] == "error":
            raise _refused(condition, status, detail, perturbation, source)
        rows.append((condition, perturbation, group, len(samples), n_control, status, detail))
    report = pd.DataFrame(rows, columns=list(SELECTION_COLUMNS))
    kept = report.loc[report["status"].eq("kept"), "condition"]
    used_groups = report.loc[report["status"].eq("kept"), "control_group"]
    selected = design[
        design["condition"].isin(kept) | (design["role"].eq("control") & groups.isin(used_groups))
    ].reset_index(drop=True)
    dropped = report[report["status"].ne("kept")]
    if len(dropped):
        log.warning(
            "%d of %d perturbed conditions dropped: %s",
            len(dropped),
            len(report),
            dict(dropped["status"].value_counts()),
        )
        for status in PERTURBATION_STATUSES:
            named = dropped[dropped["status"].eq(status)]
            if len(named):
                log.warning(
                    "dropped (%s): %s",
                    status,
                    (named["condition"] + ": " + named["detail"]).str.cat(sep="; "),
                )
    if not len(kept):
        raise InputError("no perturbed condition can be tested", source=source)
    return selected, report


def unlabelled_inputs(
    genes: Sequence[str],
    regulators: Sequence[str],
    labelled: pd.DataFrame,
    *,
    perturbation_type: str = "KO",
) -> pd.DataFrame:
    """X_u: one single-gene input per KB regulator not perturbed in the labelled data.

    Parameters
    ----------
    genes : sequence of str
        The n gene IDs of the columns.
    regulators : sequence of str
        The KB's regulators (gene IDs among `genes`).
    labelled : pandas.DataFrame
        The labelled inputs X (conditions x genes).
    perturbation_type : {"KO", "KD", "OE"}
        The type of every unlabelled input.

    Returns
    -------
    pandas.DataFrame, shape (m_u, n), int8
        X_u, one row ``unlabelled__<gene>`` per regulator no labelled condition perturbs.
    """
    if perturbation_type not in PERTURBATION_SIGN:
        raise InputError(
            f"unknown perturbation type; expected one of {sorted(PERTURBATION_SIGN)}",
            source="parameters",
            column="perturbation_type",
            row=perturbation_type,
        )
    seen = set(labelled.columns[(labelled.to_numpy() != 0).any(axis=0)])
    fresh = [g for g in regulators if g not in seen]
    index = pd.Index(genes)
    values = np.zeros((len(fresh), len(index)), dtype=np.int8)
    values[np.arange(len(fresh)), index.get_indexer(fresh)] = PERTURBATION_SIGN[perturbation_type]
    return pd.DataFrame(
        values, index=pd.Index([f"unlabelled__{g}" for g in fresh], name="condition"), columns=index
    )
