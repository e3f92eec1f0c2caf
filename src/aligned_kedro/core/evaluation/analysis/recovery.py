"""Interaction recovery (appendix F.3, Table 8): remove known edges, refine, count what
comes back."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from aligned_kedro.core.errors import InputError
from aligned_kedro.core.knowledge.kb import EDGE_COLUMNS


def sample_removals(
    kb_edges: pd.DataFrame,
    knocked_out: Iterable[str],
    *,
    seed: int,
    count: int | None = None,
    fraction: float | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Remove a random sample of the KB interactions whose regulator is knocked out in
    the data (appendix F.3).

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


def recovery_summary(per_replicate: Mapping[int, pd.DataFrame]) -> pd.DataFrame:
    """Recovered/total per replicate (Table 8) and their mean; ``edges`` lists the removed
    edges (-> activation, -| inhibition)."""
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
                "edges": _edge_list(table),
            }
        )
    out = pd.DataFrame(rows)
    if len(out):
        mean = {
            "replicate": "mean",
            "total": out["total"].mean(),
            "recovered": out["recovered"].mean(),
            "recovered_any_sign": out["recovered_any_sign"].mean(),
            "recovery_rate": out["recovery_rate"].mean(),
            "edges": "",
        }
        out = pd.concat([out, pd.DataFrame([mean])], ignore_index=True)
    return out
