"""Which conditions can be labelled, and the unlabelled inputs X_u (section 2.1)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from aligned_kedro.core.data.labels import PERTURBATION_SIGN
from aligned_kedro.core.errors import InputError

log = logging.getLogger(__name__)


def select_conditions(
    design: pd.DataFrame,
    *,
    missing_control: Literal["drop", "error"] = "error",
    require_background_match: bool = False,
    untestable: Literal["drop", "error"] = "error",
    source: str = "design table",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep the perturbed conditions that can be tested against their controls.

    A condition needs a control group with samples, and at least one residual degree of
    freedom (perturbed + control samples >= 3). ``require_background_match`` also drops
    conditions whose controls come from another strain background. Each drop is allowed
    by a parameter, logged and listed in the returned report; otherwise it raises.
    """
    for column in ("sample_id", "condition", "role", "control_group"):
        if column not in design.columns:
            raise InputError("missing column", source=source, column=column)
    groups = design["control_group"].fillna("").astype(str)
    controls = design[design["role"].eq("control")].groupby(groups)["sample_id"].size()
    perturbed = design[design["role"].eq("perturbed")]
    rows = []
    for condition, samples in perturbed.groupby("condition", sort=True):
        group = str(groups[samples.index[0]])
        n_control = int(controls.get(group, 0)) if group else 0
        matched = samples.get("background_matched", pd.Series(["True"])).astype(str).iloc[0]
        if n_control == 0:
            status, policy = "no control samples", missing_control
        elif len(samples) + n_control < 3:
            status, policy = "no residual degree of freedom", untestable
        elif require_background_match and matched.lower() not in ("true", "1"):
            status, policy = "controls of another strain background", "drop"
        else:
            status, policy = "kept", "keep"
        if policy == "error":
            raise InputError(
                f"condition cannot be tested: {status}",
                source=source,
                column="control_group",
                row=condition,
                gene=str(samples["perturbation"].iloc[0]) if "perturbation" in samples else None,
            )
        rows.append(
            (
                condition,
                samples.get("perturbation", pd.Series([""])).iloc[0],
                group,
                len(samples),
                n_control,
                status,
            )
        )
    report = pd.DataFrame(
        rows,
        columns=[
            "condition",
            "perturbation",
            "control_group",
            "n_perturbed",
            "n_control",
            "status",
        ],
    )
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
    """X_u: one single-gene input per KB regulator not perturbed in the labelled data."""
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
