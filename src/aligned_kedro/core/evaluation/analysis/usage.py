"""Knowledge versus data usage (Tables 6-7): how often f_a routes a gene to the KB, by
group of genes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from aligned_kedro.core.errors import InputError


def degree_groups(
    kb_edges: pd.DataFrame, genes: Sequence[str], bins: Sequence[float]
) -> pd.DataFrame:
    """Per gene: KB degree (in + out, self-loops left out), degree bin and role
    (regulator: at least one outgoing edge). ``bins`` are the left edges after 0, e.g.
    [1, 5, 10] gives "0", "[1,5)", "[5,10)", ">=10" (Table 6's bins)."""
    edges = sorted(float(b) for b in bins)
    if not edges or edges[0] <= 0 or len(set(edges)) != len(edges):
        raise InputError(f"degree bins must be distinct and positive, got {list(bins)}")
    off = kb_edges[kb_edges["regulator"] != kb_edges["target"]]
    pairs = off.drop_duplicates(["regulator", "target"])
    out_degree = pairs["regulator"].value_counts()
    degree = pd.concat([pairs["regulator"], pairs["target"]]).value_counts()
    index = pd.Index(genes, name="gene_id")
    degree = degree.reindex(index).fillna(0).astype(int)
    labels = ["0"]
    labels += [f"[{_fmt(a)},{_fmt(b)})" for a, b in zip(edges[:-1], edges[1:], strict=True)]
    labels.append(f">={_fmt(edges[-1])}")
    codes = np.searchsorted(np.asarray(edges), degree.to_numpy(), side="right")
    return pd.DataFrame(
        {
            "gene_id": index,
            "kb_degree": degree.to_numpy(),
            "degree_bin": pd.Categorical(np.asarray(labels)[codes], categories=labels),
            "role": np.where(
                out_degree.reindex(index).fillna(0).to_numpy() > 0, "regulator", "target only"
            ),
        }
    )


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def knowledge_usage(
    predictions: pd.DataFrame,
    conditions: Iterable[str],
    groups: pd.DataFrame,
    group_columns: Sequence[str],
    source: str = "predictions",
) -> pd.DataFrame:
    """Share of outputs routed to the KB (a = 1) per gene group (Tables 6-7).

    ``predictions`` is the long (condition, gene_id, a) table of a stage, which may omit
    rows whose a is 0 (and whose ŷ and ȳ are 0): the denominator is every
    (condition, gene) pair of ``conditions`` x the group's genes, whether listed or not.
    Rows of other conditions are ignored. ``groups`` maps every gene_id to its groups.
    """
    for column in ("condition", "gene_id", "a"):
        if column not in predictions.columns:
            raise InputError("missing column", source=source, column=column)
    conditions = pd.Index(pd.unique(pd.Series(list(conditions), dtype=object)))
    chosen = predictions[predictions["condition"].isin(conditions)]
    bad = ~chosen["a"].isin((0, 1))
    if bad.any():
        row = chosen.index[bad.to_numpy()][0]
        raise InputError(
            f"a must be 0 or 1, got {chosen.loc[row, 'a']!r}",
            source=source,
            column="a",
            row=row,
            gene=str(chosen.loc[row, "gene_id"]),
        )
    duplicated = chosen.duplicated(["condition", "gene_id"])
    if duplicated.any():
        row = chosen.index[duplicated.to_numpy()][0]
        raise InputError(
            f"condition {chosen.loc[row, 'condition']!r} lists a gene twice",
            source=source,
            row=row,
            gene=str(chosen.loc[row, "gene_id"]),
        )
    known = chosen["gene_id"].isin(groups["gene_id"])
    if not known.all():
        row = chosen.index[~known.to_numpy()][0]
        raise InputError(
            "gene not in the gene universe",
            source=source,
            column="gene_id",
            row=row,
            gene=str(chosen.loc[row, "gene_id"]),
        )
    kb_counts = chosen.loc[chosen["a"] == 1, "gene_id"].value_counts()
    per_gene = groups.assign(
        kb_outputs=kb_counts.reindex(groups["gene_id"]).fillna(0).astype(int).to_numpy()
    )
    rows = [_usage_row("all", "all", per_gene, len(conditions))]
    for column in group_columns:
        for value, part in per_gene.groupby(column, observed=False, sort=True):
            rows.append(_usage_row(column, str(value), part, len(conditions)))
    return pd.DataFrame(rows)


def _usage_row(grouping: str, group: str, part: pd.DataFrame, n_conditions: int) -> dict:
    outputs = len(part) * n_conditions
    kb = int(part["kb_outputs"].sum())
    share = kb / outputs if outputs else np.nan
    return {
        "grouping": grouping,
        "group": group,
        "n_genes": len(part),
        "n_outputs": outputs,
        "kb_outputs": kb,
        "kb_usage": share,
        "data_usage": 1 - share,
    }
