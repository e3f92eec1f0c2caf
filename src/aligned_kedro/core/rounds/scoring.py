"""Names of the stages of a run and their scores on the test split (Eq. 3)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from aligned_kedro.core.errors import InputError
from aligned_kedro.core.evaluation.metrics import consistency_scores
from aligned_kedro.core.learning.adaptor import kb_usage
from aligned_kedro.core.rounds.data import RoundData

BASELINES = ("no_change", "kb_only", "linear", "neural_only", "static_routing")
DIAGNOSTICS = ("oracle_routing",)
STEPS = ("align", "refine")

Metrics = dict[str, Any]


def round_namespace(round_number: int) -> str:
    """``round_<r>``: the prefix of round r's stages, datasets and metrics."""
    return f"round_{round_number}"


def stage_name(step: str, round_number: int | None = None) -> str:
    """``round_<r>.<step>`` for a stage of round r (align or refine), ``baseline.<step>``
    for a baseline, ``diagnostic.<step>`` for a diagnostic (an upper bound that reads the
    test labels): the prefix of the stage's metrics and its row of the run summary."""
    if round_number is None:
        if step in DIAGNOSTICS:
            return f"diagnostic.{step}"
        if step not in BASELINES:
            raise InputError(f"unknown baseline {step!r}; expected one of {list(BASELINES)}")
        return f"baseline.{step}"
    if step not in STEPS:
        raise InputError(f"unknown stage {step!r}; expected one of {list(STEPS)}")
    return f"{round_namespace(round_number)}.{step}"


def stage_names(rounds: int) -> list[str]:
    """Every stage of a run of `rounds` rounds: the baselines and diagnostics, then A and
    R of each round."""
    names = [stage_name(name) for name in (*BASELINES, *DIAGNOSTICS)]
    return names + [stage_name(step, r) for r in range(1, rounds + 1) for step in STEPS]


def score_stage(
    stage: str,
    data: RoundData,
    outputs: Mapping[str, np.ndarray],
    gamma: float,
    current_kb: np.ndarray | None = None,
) -> Metrics:
    """Scores of a stage on the test split (Eq. 3), over the measured genes: consistency
    with the data and with the ORIGINAL KB, the share routed to the KB, and with
    `current_kb` (δ of the stage's own KB on the test rows) ``kb_f1_current`` and
    ``balanced_f1_current``. Without test rows (split strategy ``none``) there is nothing
    to score: no metric.

    Parameters
    ----------
    stage : str
        Prefix of every metric (`stage_name`).
    data : RoundData
    outputs : mapping
        ``y_bar`` (ȳ) and ``a`` (the adaptor's 0/1 choice), each (m_test, n).
    gamma : float
    current_kb : numpy.ndarray, shape (m_test, n), optional

    Returns
    -------
    dict
        ``<stage>.<score>`` to value; empty without test rows.
    """
    if not len(data.test):
        return {}
    _, y, kb_pred = (data.scored(values) for values in data.part("test"))
    y_bar = data.scored(outputs["y_bar"])
    scores = consistency_scores(y, y_bar, kb_pred, gamma)
    if current_kb is not None:
        current = consistency_scores(y, y_bar, data.scored(current_kb), gamma)
        scores["kb_f1_current"] = current["kb_f1"]
        scores["balanced_f1_current"] = current["balanced_f1"]
    scores["kb_usage"] = kb_usage(data.scored(outputs["a"]))
    return {f"{stage}.{name}": value for name, value in scores.items()}
