"""Edges added by refinement, direct or indirect (Table 10): is an added edge a shortcut
of a path the original KB already had?"""

from __future__ import annotations

import numpy as np
import pandas as pd

from aligned_kedro.core.errors import InputError
from aligned_kedro.core.knowledge.deduction import iter_closure_blocks
from aligned_kedro.core.knowledge.kb import EDGE_COLUMNS, KnowledgeBase


def classify_added_edges(original: KnowledgeBase, added: pd.DataFrame, k: int) -> pd.DataFrame:
    """Label each added signed edge against the ORIGINAL KB (appendix F.5, Table 10).

    ``direct``: the edge is a direct interaction of the original KB (with its sign);
    ``direct_other_sign``: the pair is, with the other sign only;
    ``indirect_same_sign``: otherwise, the original closure R+(k) (sign +1) or R-(k)
    (sign -1) of Eq. 1 links regulator to target: a shortcut of a path of up to k+1
    interactions; ``indirect_any_sign``: otherwise, R+(k) or R-(k) links them (this
    includes the same-sign shortcuts); ``new``: none of these. Only the closure rows of
    the added edges' regulators are computed.
    """
    for column in EDGE_COLUMNS:
        if column not in added.columns:
            raise InputError("missing column", source="added edges", column=column)
    table = added.loc[:, list(EDGE_COLUMNS)].reset_index(drop=True)
    for column in ("regulator", "target"):
        unknown = ~table[column].isin(original.index)
        if unknown.any():
            raise InputError(
                "gene not in the knowledge base's genes",
                source="added edges",
                column=column,
                row=int(np.flatnonzero(unknown)[0]),
                gene=str(table.loc[unknown.to_numpy(), column].iloc[0]),
            )
    reg = table["regulator"].map(original.index).to_numpy(np.intp)
    tgt = table["target"].map(original.index).to_numpy(np.intp)
    positive = table["sign"].to_numpy() == 1
    known = original.edges()
    signed = set(zip(known["regulator"], known["target"], known["sign"], strict=True))
    pairs = {key[:2] for key in signed}
    keys = list(zip(table["regulator"], table["target"], table["sign"], strict=True))
    direct = np.array([key in signed for key in keys], dtype=bool)
    direct_pair = np.array([key[:2] in pairs for key in keys], dtype=bool)
    in_pos = np.zeros(len(table), dtype=bool)
    in_neg = np.zeros(len(table), dtype=bool)
    rows = np.unique(reg)
    if len(rows):
        where = {int(g): np.flatnonzero(reg == g) for g in rows}
        for block, p, q in iter_closure_blocks(original, rows, k, "boolean"):
            for i, g in enumerate(block):
                idx = where[int(g)]
                in_pos[idx] = p[i, tgt[idx]] > 0
                in_neg[idx] = q[i, tgt[idx]] > 0
    same = np.where(positive, in_pos, in_neg) & ~direct_pair
    either = (in_pos | in_neg) & ~direct_pair
    kind = np.select(
        [direct, direct_pair, same, either],
        ["direct", "direct_other_sign", "indirect_same_sign", "indirect_any_sign"],
        "new",
    )
    return table.assign(
        direct=direct,
        direct_other_sign=direct_pair & ~direct,
        indirect_same_sign=same,
        indirect_any_sign=either,
        kind=kind,
    )


def shortcut_summary(classified: pd.DataFrame) -> dict[str, float]:
    """Counts and shares of Table 10 from `classify_added_edges`; ``indirect_any_sign``
    includes the same-sign ones."""
    n = len(classified)
    out: dict[str, float] = {"n_added": n}
    for column in ("direct", "direct_other_sign", "indirect_same_sign", "indirect_any_sign"):
        count = int(classified[column].sum())
        out[f"n_{column}"] = count
        out[f"share_{column}"] = count / n if n else np.nan
    new = int((classified["kind"] == "new").sum())
    out["n_new"] = new
    out["share_new"] = new / n if n else np.nan
    return out
