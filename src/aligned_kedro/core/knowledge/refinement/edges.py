"""The refined KB of Eq. 6: its signed edge table with each edge's support, and summaries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from aligned_kedro.core.knowledge.kb import KnowledgeBase, compile_kb
from aligned_kedro.core.knowledge.refinement.problem import RefineProblem

REFINED_EDGE_COLUMNS = (
    "regulator",
    "target",
    "sign",
    "score",
    "status",
    "support",
    "inputs_reaching",
)


def edge_table(
    kb: KnowledgeBase,
    problem: RefineProblem,
    wp: torch.Tensor,
    wn: torch.Tensor,
    threshold: float,
) -> pd.DataFrame:
    """Signed edges present before or after refinement (`REFINED_EDGE_COLUMNS`).

    An entry is an edge when its value R̄ exceeds `threshold`; score = R̄; status is
    kept, added or removed against `kb`. support and inputs_reaching come from
    `RefineProblem.edge_support`: with the inputs that reach its regulator, they tell
    which edges the data back, contradict, or cannot test. The self-activation of an
    input self-edge is listed as kept, without support.
    """
    names = np.asarray(kb.genes, dtype=object)
    rows, layout, r = problem.rows, problem.layout, problem.r
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
        support, reaching = problem.edge_support(wp, wn, i, j, sign)
        frames.append(
            pd.DataFrame(
                {
                    "regulator": names[rows[i]],
                    "target": names[layout[j]],
                    "sign": np.full(len(i), sign, dtype=np.int64),
                    "score": values[i, j],
                    "status": np.where(was & now, "kept", np.where(now, "added", "removed")),
                    "support": support,
                    "inputs_reaching": reaching.astype(np.int64),
                }
            )
        )
    table = kb.edges()
    self_pos = table[(table["regulator"] == table["target"]) & (table["sign"] == 1)]
    if len(self_pos):
        frames.append(
            self_pos.assign(score=1.0, status="kept", support=np.nan, inputs_reaching=pd.NA)
        )
    out = pd.concat(frames, ignore_index=True).loc[:, list(REFINED_EDGE_COLUMNS)]
    out["inputs_reaching"] = out["inputs_reaching"].astype("Int64")
    return out.sort_values(["regulator", "target", "sign"], ignore_index=True)


def refined_kb(kb: KnowledgeBase, edges: pd.DataFrame) -> KnowledgeBase:
    """The KB of the edges not removed; a pair that ends with both signs keeps both."""
    present = edges.loc[edges["status"] != "removed", ["regulator", "target", "sign"]]
    return compile_kb(present, kb.genes, conflict="both", source="refined edges")


def edge_summary(edges: pd.DataFrame) -> dict[str, int]:
    """Edge counts by status and sign (edges_<status>[_pos|_neg]); kept edges also by the
    sign of their support (edges_kept_<verdict>, `kept_by_support`)."""
    out: dict[str, int] = {}
    for status in ("kept", "added", "removed"):
        chosen = edges["status"] == status
        out[f"edges_{status}"] = int(chosen.sum())
        out[f"edges_{status}_pos"] = int((chosen & (edges["sign"] == 1)).sum())
        out[f"edges_{status}_neg"] = int((chosen & (edges["sign"] == -1)).sum())
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
        those no input reaches (a subset of no_evidence).
    """
    kept = edges[(edges["status"] == "kept") & (edges["regulator"] != edges["target"])]
    return {
        "supported": int((kept["support"] > 0).sum()),
        "contradicted": int((kept["support"] < 0).sum()),
        "no_evidence": int((kept["support"] == 0).sum()),
        "untested": int((kept["inputs_reaching"] == 0).sum()),
    }
