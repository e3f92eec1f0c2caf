"""The refined KB of Eq. 6: its signed edge table with each edge's support, and summaries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from aligned_kedro.core.knowledge.kb import KnowledgeBase, compile_kb
from aligned_kedro.core.knowledge.refinement.prices import Prices
from aligned_kedro.core.knowledge.refinement.problem import RefineProblem

REFINED_EDGE_COLUMNS = (
    "regulator",
    "target",
    "sign",
    "score",
    "status",
    "confidence",
    "price",
    "support",
    "support_observed",
    "support_predicted",
    "n_observed_inputs",
    "n_predicted_inputs",
    "evidence",
    "drivers",
)
EVIDENCE = ("observed", "predicted", "both", "combined", "none")
_TOLERANCE = 1e-6


def edge_table(
    kb: KnowledgeBase,
    problem: RefineProblem,
    wp: torch.Tensor,
    wn: torch.Tensor,
    threshold: float,
    prices: Prices,
    names: list[str],
) -> pd.DataFrame:
    """Signed edges present before or after refinement (`REFINED_EDGE_COLUMNS`).

    An entry is an edge when its value R̄ exceeds `threshold`; score = R̄; status is
    kept, added or removed against `kb`; confidence is the KB edge's (empty if none);
    price is what changing the entry costs (λ of Eq. 6). The support of each kind of
    input and the inputs of each kind that can test the edge come from
    `RefineProblem.edge_support`; support is that of the fitted kinds, the one an edit
    had to beat the price with. evidence says which kinds of input back the edge's status
    on their own: for an edit, the kinds whose support alone pays its price (observed,
    predicted, both, or combined when only their sum does); for a kept edge, the kinds
    with positive support (none without); drivers names the inputs (of `names`) with the
    largest contributions to the support. The self-activation of an input self-edge is
    listed as kept, without support.
    """
    genes = np.asarray(kb.genes, dtype=object)
    rows, layout, r = problem.rows, problem.layout, problem.r
    confidence = _confidence_lookup(kb)
    frames = []
    for sign, w, ref in ((1, wp, problem.r_pos), (-1, wn, problem.r_neg)):
        values = w.double().numpy()
        before = ref.numpy() > 0
        after = values > threshold
        if sign == 1:
            before[np.arange(r), np.arange(r)] = False
            after[np.arange(r), np.arange(r)] = False
        i, j = np.nonzero(before | after)
        was, now = before[i, j], after[i, j]
        status = np.where(was & now, "kept", np.where(now, "added", "removed"))
        found = problem.edge_support(wp, wn, i, j, sign)
        price = prices.of(sign).numpy()[i, j]
        observed, predicted = found.support["observed"], found.support["predicted"]
        fitted = sum(found.support[kind] for kind in problem.fit)
        regulator, target = genes[rows[i]], genes[layout[j]]
        frames.append(
            pd.DataFrame(
                {
                    "regulator": regulator,
                    "target": target,
                    "sign": np.full(len(i), sign, dtype=np.int64),
                    "score": values[i, j],
                    "status": status,
                    "confidence": [
                        confidence.get((a, b, sign), np.nan)
                        for a, b in zip(regulator, target, strict=True)
                    ],
                    "price": price,
                    "support": fitted,
                    "support_observed": observed,
                    "support_predicted": predicted,
                    "n_observed_inputs": found.reaching["observed"].astype(np.int64),
                    "n_predicted_inputs": found.reaching["predicted"].astype(np.int64),
                    "evidence": _evidence(status, observed, predicted, price),
                    "drivers": _drivers(found.drivers, found.driver_rows, names),
                }
            )
        )
    table = kb.edges()
    self_pos = table[(table["regulator"] == table["target"]) & (table["sign"] == 1)]
    if len(self_pos):
        frames.append(
            self_pos.assign(
                score=1.0,
                status="kept",
                confidence=np.nan,
                price=0.0,
                support=np.nan,
                support_observed=np.nan,
                support_predicted=np.nan,
                n_observed_inputs=pd.NA,
                n_predicted_inputs=pd.NA,
                evidence="none",
                drivers="",
            )
        )
    out = pd.concat(frames, ignore_index=True).loc[:, list(REFINED_EDGE_COLUMNS)]
    for column in ("n_observed_inputs", "n_predicted_inputs"):
        out[column] = out[column].astype("Int64")
    return out.sort_values(["regulator", "target", "sign"], ignore_index=True)


def _confidence_lookup(kb: KnowledgeBase) -> dict[tuple[str, str, int], float]:
    table = kb.confidence()
    if table is None:
        return {}
    keys = zip(table["regulator"], table["target"], table["sign"].astype(int), strict=True)
    return dict(zip(keys, table["confidence"].astype(float), strict=True))


def _evidence(
    status: np.ndarray, observed: np.ndarray, predicted: np.ndarray, price: np.ndarray
) -> np.ndarray:
    """Which kinds of input back each status on their own: an edit by the kinds whose
    support alone pays its price (removal: negative support), a kept edge by positive
    support; an edit no kind pays alone is `combined`."""
    edited = status != "kept"
    direction = np.where(status == "removed", -1.0, 1.0)
    bar = np.where(edited, price - _TOLERANCE, _TOLERANCE)
    by_observed = direction * observed > bar
    by_predicted = direction * predicted > bar
    return np.select(
        [by_observed & by_predicted, by_observed, by_predicted, edited],
        ["both", "observed", "predicted", "combined"],
        "none",
    )


def _drivers(values: np.ndarray, rows: np.ndarray, names: list[str]) -> list[str]:
    """ "name (+0.98); …": the inputs with the largest contributions to each entry's
    support (positive: for the edge)."""
    out = []
    for shares, where in zip(values, rows, strict=True):
        parts = [
            f"{names[int(row)]} ({share:+.2f})"
            for share, row in zip(shares, where, strict=True)
            if row >= 0 and abs(share) > _TOLERANCE
        ]
        out.append("; ".join(parts))
    return out


def refined_kb(kb: KnowledgeBase, edges: pd.DataFrame) -> KnowledgeBase:
    """The KB of the edges not removed, with their confidence; a pair that ends with both
    signs keeps both."""
    columns = ["regulator", "target", "sign", "confidence"]
    present = edges.loc[edges["status"] != "removed", columns]
    return compile_kb(present, kb.genes, conflict="both", source="refined edges")


def edge_summary(edges: pd.DataFrame) -> dict[str, int]:
    """Edge counts by status and sign (edges_<status>[_pos|_neg]); edits by the kinds of
    input that back them (edges_<added|removed>_by_<evidence>); kept edges by the sign of
    their support (edges_kept_<verdict>, `kept_by_support`)."""
    out: dict[str, int] = {}
    for status in ("kept", "added", "removed"):
        chosen = edges["status"] == status
        out[f"edges_{status}"] = int(chosen.sum())
        out[f"edges_{status}_pos"] = int((chosen & (edges["sign"] == 1)).sum())
        out[f"edges_{status}_neg"] = int((chosen & (edges["sign"] == -1)).sum())
        if status != "kept":
            for evidence in EVIDENCE:
                n = int((chosen & (edges["evidence"] == evidence)).sum())
                out[f"edges_{status}_by_{evidence}"] = n
    out.update({f"edges_kept_{name}": n for name, n in kept_by_support(edges).items()})
    return out


def kept_by_support(edges: pd.DataFrame) -> dict[str, int]:
    """Kept off-diagonal edges of a refined edge table by the sign of their support.

    Parameters
    ----------
    edges
        A refined edge table (`REFINED_EDGE_COLUMNS`).

    Returns
    -------
    dict
        supported (support > 0), contradicted (< 0), no_evidence (= 0), and untested:
        those no observed input (a measured response) can test.
    """
    kept = edges[(edges["status"] == "kept") & (edges["regulator"] != edges["target"])]
    return {
        "supported": int((kept["support"] > 0).sum()),
        "contradicted": int((kept["support"] < 0).sum()),
        "no_evidence": int((kept["support"] == 0).sum()),
        "untested": int((kept["n_observed_inputs"] == 0).sum()),
    }
