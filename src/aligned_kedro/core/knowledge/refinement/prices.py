"""The price λ of Eq. 6 per entry: what an edit must gain in the data term to be made.

Removing a KB edge costs λ times a confidence factor 1 + w·c (c in [0, 1] the edge's
confidence from its source, 0 when it has none), so a well-supported edge needs more
evidence to go; a KB without confidences keeps one price. Adding an edge costs the
addition price. An entry that may not change costs infinity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from aligned_kedro.core.knowledge.kb import KnowledgeBase


@dataclass(frozen=True)
class Prices:
    """Per-entry prices of R̄+ and R̄- (r, n) float64, in the problem's layout; the fixed
    self-activation's price is 0."""

    pos: torch.Tensor
    neg: torch.Tensor

    def of(self, sign: int) -> torch.Tensor:
        return self.pos if sign == 1 else self.neg


def confidence_layout(
    kb: KnowledgeBase, rows: np.ndarray, layout: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The KB edges' confidences in a problem's layout, (r, n) for R+ and R-; 0 where the
    edge has none or is absent."""
    out = (np.zeros((len(rows), len(layout))), np.zeros((len(rows), len(layout))))
    table = kb.confidence()
    if table is None:
        return out
    row_of = np.full(kb.n_genes, -1, dtype=np.intp)
    row_of[rows] = np.arange(len(rows))
    col_of = np.empty(kb.n_genes, dtype=np.intp)
    col_of[layout] = np.arange(len(layout))
    reg = row_of[table["regulator"].map(kb.index).to_numpy(np.intp)]
    tgt = col_of[table["target"].map(kb.index).to_numpy(np.intp)]
    for matrix, sign in zip(out, (1, -1), strict=True):
        chosen = (table["sign"].to_numpy() == sign) & (reg >= 0)
        matrix[reg[chosen], tgt[chosen]] = table["confidence"].to_numpy(np.float64)[chosen]
    return out


def entry_prices(
    present: tuple[torch.Tensor, torch.Tensor],
    confidence: tuple[np.ndarray, np.ndarray],
    lam: float,
    lam_add: float,
    confidence_weight: float,
    *,
    editable: np.ndarray | None = None,
) -> Prices:
    """Prices of every entry: present ones (`present`, 0/1 (r, n) for R+ and R-) cost
    `lam` times 1 + `confidence_weight`·confidence, absent ones `lam_add`.

    Parameters
    ----------
    present
        R+(0), R-(0) in a problem's layout, (r, n) each; the first r columns are the rows.
    confidence
        `confidence_layout`, (r, n) each.
    lam, lam_add
        The prices of a removal (before its confidence factor) and of an addition.
    confidence_weight
        w of the confidence factor.
    editable
        (r,) bool, the rows that may change; the others' entries cost infinity.
        None: every row.

    Returns
    -------
    Prices
        (r, n) float64 each; the self-activation's entry costs 0.
    """
    out = []
    for sign, (here, conf) in enumerate(zip(present, confidence, strict=True)):
        factor = 1.0 + confidence_weight * torch.as_tensor(conf, dtype=torch.float64)
        price = torch.where(here.double() > 0, lam * factor, torch.full_like(factor, lam_add))
        if editable is not None:
            price[torch.as_tensor(~editable)] = torch.inf
        if sign == 0:
            r = price.shape[0]
            price[torch.arange(r), torch.arange(r)] = 0.0
        out.append(price)
    return Prices(*out)
