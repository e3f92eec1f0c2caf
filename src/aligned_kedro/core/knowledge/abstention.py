"""When δ_KB abstains: signed evidence too weak for a sign (section 2.2 on dense GRNs).

The integer closure of Eq. 1 counts walks of k+1 steps, and on a dense GRN the longest
walks outnumber the short ones by orders of magnitude: nearly every gene gets a sign,
decided by long walks of mixed signs. The rule here weighs each path by its length
instead: a path of L interactions (pauses on the self-activation diagonal not counted)
weighs ``decay**L``, P and N sum the weights of the positive and negative paths of at
most k+1 interactions from the perturbed genes, and δ_KB keeps sign(P − N) only where
|P − N| > balance · (P + N). With ``balance = 0`` the rule is off and δ_KB is the paper's
sign of the integer counts.

The share of genes an input changes tells a KB that deduces "everything changes" from
one that deduces something; `changed_shares` and `share_summary` measure it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from aligned_kedro.core.errors import InputError

DEFAULT_DECAY = 0.05
SATURATED_SHARE = 1 / 3
_TIE = 1e-9
SHARE_QUANTILES = {"min": 0.0, "q25": 0.25, "median": 0.5, "q75": 0.75, "max": 1.0}


@dataclass(frozen=True)
class Abstention:
    """The rule under which δ_KB predicts 0 for weakly supported genes (integer variant).

    Parameters
    ----------
    balance
        Smallest normalised balance |P − N| / (P + N) that keeps a sign, in [0, 1); 0
        turns the rule off (the paper's integer path counts).
    decay
        Weight of one interaction of a path, in (0, 1]: a path of L interactions weighs
        ``decay**L`` in P and N.
    """

    balance: float = 0.0
    decay: float = DEFAULT_DECAY

    def __post_init__(self) -> None:
        if not 0.0 <= self.balance < 1.0:
            raise InputError(
                f"abstention balance must be in [0, 1), got {self.balance}",
                source="parameters",
                column="knowledge_base.abstention.balance",
            )
        if not 0.0 < self.decay <= 1.0:
            raise InputError(
                f"abstention decay must be in (0, 1], got {self.decay}",
                source="parameters",
                column="knowledge_base.abstention.decay",
            )

    @property
    def active(self) -> bool:
        """Whether δ_KB abstains at all (``balance > 0``)."""
        return self.balance > 0.0

    @classmethod
    def from_params(cls, params: Mapping[str, Any] | None) -> Abstention:
        """The rule of the ``knowledge_base.abstention`` parameters (none: off)."""
        if not params:
            return cls()
        unknown = sorted(set(params) - {"balance", "decay"})
        if unknown:
            raise InputError(
                f"unknown abstention option(s) {unknown}; expected balance, decay",
                source="parameters",
                column="knowledge_base.abstention",
            )
        return cls(
            balance=float(params.get("balance", 0.0)),
            decay=float(params.get("decay", DEFAULT_DECAY)),
        )

    def keep(self, values: np.ndarray, totals: np.ndarray) -> np.ndarray:
        """Where the sign of ``values`` = P − N is kept: |P − N| > balance · (P + N), a
        tie (to rounding, relative 1e-9) abstaining.

        Parameters
        ----------
        values, totals
            P − N and P + N, same shape.

        Returns
        -------
        numpy.ndarray of bool
            Same shape as `values`.
        """
        bound = np.multiply(totals, self.balance * (1.0 + _TIE))
        return np.greater(np.abs(values), bound, out=np.empty(values.shape, dtype=bool))


def changed_shares(
    deduced: np.ndarray,
    X: np.ndarray | sp.spmatrix,
    columns: np.ndarray | None = None,
) -> np.ndarray:
    """Share of the genes each input's δ_KB changes, its own perturbed genes left out.

    Parameters
    ----------
    deduced
        δ_KB in {-1, 0, 1}, (m, n).
    X
        The inputs, (m, n); a gene with x_g ≠ 0 is not counted for its row.
    columns
        Boolean (n,): the genes counted (e.g. the measured ones); all when omitted.

    Returns
    -------
    numpy.ndarray
        (m,) float64 shares in [0, 1]; NaN for a row with no gene to count.
    """
    deduced = np.asarray(deduced)
    perturbed = (X != 0).toarray() if sp.issparse(X) else np.asarray(X) != 0
    if deduced.shape != perturbed.shape:
        raise InputError(f"δ_KB has shape {deduced.shape}, the inputs {perturbed.shape}")
    counted = ~perturbed
    if columns is not None:
        counted &= np.asarray(columns, dtype=bool)[None, :]
    n_counted = counted.sum(axis=1)
    n_changed = ((deduced != 0) & counted).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_counted > 0, n_changed / np.maximum(n_counted, 1), np.nan)


def share_summary(shares: np.ndarray) -> dict[str, float]:
    """Quantiles of the per-input shares of changed genes (`changed_shares`).

    Returns
    -------
    dict
        ``kb_changed_share_<q>`` for q in min, q25, median, q75, max (NaN without an
        input), and ``kb_saturated``: 1.0 when the median input changes more than
        `SATURATED_SHARE` of the genes, else 0.0.
    """
    finite = np.asarray(shares, dtype=float)
    finite = finite[np.isfinite(finite)]
    summary = {
        f"kb_changed_share_{name}": float(np.quantile(finite, q)) if len(finite) else np.nan
        for name, q in SHARE_QUANTILES.items()
    }
    median = summary["kb_changed_share_median"]
    summary["kb_saturated"] = float(bool(np.isfinite(median) and median > SATURATED_SHARE))
    return summary
