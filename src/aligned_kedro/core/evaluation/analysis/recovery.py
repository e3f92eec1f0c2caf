"""Interaction recovery (appendix F.3, Table 8): remove known edges, refine, count what
comes back."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from aligned_kedro.core.errors import InputError
from aligned_kedro.core.knowledge.kb import EDGE_COLUMNS, KnowledgeBase


def responding_edges(
    kb: KnowledgeBase,
    X: np.ndarray,
    Y: np.ndarray,
    deduce: Callable[[KnowledgeBase, np.ndarray], np.ndarray],
    *,
    unexplained: bool = True,
) -> pd.DataFrame:
    """KB interactions that measured responses back (the protocol of appendix F.3 on
    observed evidence): the regulator is perturbed in a row of X and the target's label
    in that row is the edge's response x·sign.

    With `unexplained`, an interaction counts only where it is the KB's one explanation
    of such a response: δ_KB gives the label, and δ of the KB without that edge alone
    does not (another path would explain it: a shortcut, which refinement leaves out).

    Parameters
    ----------
    kb
        The KB, n genes.
    X, Y
        Perturbations and their labels (the training split), (m, n) each, in {-1, 0, 1}.
    deduce
        δ_KB(X) of a KB, (m, n): the run's k, variant and margin.
    unexplained
        Keep only the edges without which the response is no longer deduced.

    Returns
    -------
    pandas.DataFrame
        regulator, target, sign of the chosen off-diagonal edges, sorted.
    """
    table = kb.edges()
    table = table[table["regulator"] != table["target"]].reset_index(drop=True)
    reg = table["regulator"].map(kb.index).to_numpy(np.intp)
    tgt = table["target"].map(kb.index).to_numpy(np.intp)
    sign = table["sign"].to_numpy(np.int64)
    perturbed = X[:, reg] != 0
    responds = perturbed & (Y[:, tgt] == X[:, reg] * sign)
    chosen = responds.any(axis=0)
    if unexplained and chosen.any():
        rows = np.flatnonzero(perturbed.any(axis=1))
        full = np.zeros_like(Y)
        full[rows] = deduce(kb, X[rows])
        for e in np.flatnonzero(chosen):
            where = np.flatnonzero(responds[:, e] & (full[:, tgt[e]] == Y[:, tgt[e]]))
            if not len(where):
                chosen[e] = False
                continue
            without = _without(kb, reg[e], tgt[e], sign[e])
            chosen[e] = bool((deduce(without, X[where])[:, tgt[e]] != Y[where, tgt[e]]).any())
    return table[chosen].sort_values(list(EDGE_COLUMNS), ignore_index=True)


def _without(kb: KnowledgeBase, regulator: int, target: int, sign: int) -> KnowledgeBase:
    matrices = {"r_pos": kb.r_pos.tolil(), "r_neg": kb.r_neg.tolil()}
    matrices["r_pos" if sign == 1 else "r_neg"][regulator, target] = 0.0
    return KnowledgeBase(kb.genes, **matrices)


def sample_removals(
    kb_edges: pd.DataFrame,
    knocked_out: Iterable[str],
    *,
    seed: int,
    count: int | None = None,
    fraction: float | None = None,
    pairs: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Remove a random sample of the KB interactions whose regulator is knocked out in
    the data (appendix F.3), among `pairs` (regulator, target) when given.

    An interaction is a regulator-target pair (self-loops excepted); a pair with both
    signs loses both. Candidates are drawn in (regulator, target) order, so the draw
    depends only on ``seed``. Exactly one of ``count`` and ``fraction`` (of the candidate
    pairs, rounded, at least 1) is given. Returns (the KB without them, the removed edges).
    """
    if (count is None) == (fraction is None):
        raise InputError("give exactly one of count and fraction", source="recovery")
    eligible = kb_edges["regulator"].isin(set(knocked_out)) & (
        kb_edges["regulator"] != kb_edges["target"]
    )
    if pairs is not None:
        allowed = pd.MultiIndex.from_frame(pairs[["regulator", "target"]])
        keys = pd.MultiIndex.from_frame(kb_edges[["regulator", "target"]])
        eligible &= keys.isin(allowed)
    pairs = (
        kb_edges.loc[eligible, ["regulator", "target"]]
        .drop_duplicates()
        .sort_values(["regulator", "target"], ignore_index=True)
    )
    if fraction is not None:
        if not 0 < fraction <= 1:
            raise InputError(f"fraction must be in (0, 1], got {fraction}", source="recovery")
        count = max(1, round(fraction * len(pairs)))
    if count < 1 or count > len(pairs):
        raise InputError(
            f"cannot remove {count} interactions: {len(pairs)} regulator-target pairs of the "
            "KB have a knocked-out regulator",
            source="recovery",
        )
    chosen = pairs.iloc[np.sort(np.random.default_rng(seed).choice(len(pairs), count, False))]
    keys = pd.MultiIndex.from_frame(kb_edges[["regulator", "target"]])
    drop = keys.isin(pd.MultiIndex.from_frame(chosen)) & eligible.to_numpy()
    removed = kb_edges[drop].sort_values(list(EDGE_COLUMNS), ignore_index=True)
    return kb_edges[~drop], removed


def false_additions(
    original: pd.DataFrame, removed: pd.DataFrame, refined: pd.DataFrame
) -> pd.DataFrame:
    """Edges of the refined KB (rows of ``refined`` not removed) that are neither in the
    ORIGINAL KB nor among the removed edges: additions the protocol cannot confirm."""
    present = refined
    if "status" in refined.columns:
        present = refined[refined["status"] != "removed"]
    present = present[present["regulator"] != present["target"]]
    known = set(zip(original["regulator"], original["target"], original["sign"], strict=True))
    keys = zip(present["regulator"], present["target"], present["sign"], strict=True)
    new = np.array([key not in known for key in keys], dtype=bool)
    return present.loc[new, list(EDGE_COLUMNS)].reset_index(drop=True)


def count_recovery(removed: pd.DataFrame, refined: pd.DataFrame) -> pd.DataFrame:
    """Per removed edge: whether the refined KB has it again with its sign
    (``recovered``), or has the pair with either sign (``recovered_any_sign``).
    ``refined`` holds the refined KB's edges (rows with status "removed" are not edges)."""
    present = refined
    if "status" in refined.columns:
        present = refined[refined["status"] != "removed"]
    signed = set(zip(present["regulator"], present["target"], present["sign"], strict=True))
    pairs = set(zip(present["regulator"], present["target"], strict=True))
    table = removed.reset_index(drop=True)
    keys = list(zip(table["regulator"], table["target"], table["sign"], strict=True))
    return table.assign(
        recovered=[key in signed for key in keys],
        recovered_any_sign=[key[:2] in pairs for key in keys],
    )


def _edge_list(table: pd.DataFrame) -> str:
    reg = table.get("regulator_name", table["regulator"])
    tgt = table.get("target_name", table["target"])
    arrows = np.where(table["sign"].to_numpy() == 1, "->", "-|")
    return ", ".join(f"{r} {a} {t}" for r, a, t in zip(reg, arrows, tgt, strict=True))


def recovery_summary(
    per_replicate: Mapping[int, pd.DataFrame], false_added: Mapping[int, int] | None = None
) -> pd.DataFrame:
    """Recovered/total per replicate (Table 8), the false additions (`false_additions`)
    when given, and their means; ``edges`` lists the removed edges (-> activation,
    -| inhibition)."""
    rows = []
    for replicate, table in sorted(per_replicate.items()):
        total = len(table)
        rows.append(
            {
                "replicate": str(replicate),
                "total": total,
                "recovered": int(table["recovered"].sum()),
                "recovered_any_sign": int(table["recovered_any_sign"].sum()),
                "recovery_rate": table["recovered"].mean() if total else np.nan,
                "false_additions": (false_added or {}).get(replicate, np.nan),
                "edges": _edge_list(table),
            }
        )
    out = pd.DataFrame(rows)
    if len(out):
        mean = {
            "replicate": "mean",
            **{
                column: out[column].mean()
                for column in (
                    "total",
                    "recovered",
                    "recovered_any_sign",
                    "recovery_rate",
                    "false_additions",
                )
            },
            "edges": "",
        }
        out = pd.concat([out, pd.DataFrame([mean])], ignore_index=True)
    return out
