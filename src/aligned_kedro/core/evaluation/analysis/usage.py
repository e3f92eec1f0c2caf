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
    *,
    skip: Iterable[str] = (),
) -> pd.DataFrame:
    """Share of outputs routed to the KB (a = 1) per gene group (Tables 6-7).

    ``predictions`` is the long (condition, gene_id, a) table of a stage, which may omit
    rows whose a is 0 (and whose ŷ and ȳ are 0): the denominator is every
    (condition, gene) pair of ``conditions`` x the group's genes, whether listed or not.
    Rows of other conditions and of the genes in ``skip`` (latent genes, never scored)
    are ignored. ``groups`` maps every other gene_id to its groups.
    """
    for column in ("condition", "gene_id", "a"):
        if column not in predictions.columns:
            raise InputError("missing column", source=source, column=column)
    conditions = pd.Index(pd.unique(pd.Series(list(conditions), dtype=object)))
    position = _positions(predictions["condition"], conditions)
    gene = predictions["gene_id"].astype("category")
    skipped = np.append(gene.cat.categories.isin(list(skip)), False)
    gene_codes = gene.cat.codes.to_numpy()
    keep = (position >= 0) & ~skipped[gene_codes]
    condition = position[keep]
    del position
    gene_codes = gene_codes[keep]
    a = predictions["a"].to_numpy()[keep]

    def refuse(message: str, at: int, **where: str) -> InputError:
        row = int(np.flatnonzero(keep)[at])
        gene_id = str(predictions["gene_id"].iloc[row])
        return InputError(message, source=source, row=predictions.index[row], gene=gene_id, **where)

    bad = np.flatnonzero(~np.isin(a, (0, 1)))
    if len(bad):
        raise refuse(f"a must be 0 or 1, got {a[bad[0]]!r}", bad[0], column="a")
    width = len(gene.cat.categories) + 1
    key = condition.astype(np.int64 if len(conditions) * width >= 2**31 else np.int32)
    key = key * width + gene_codes
    ordered = np.sort(key)
    if (ordered[1:] == ordered[:-1]).any():
        order = np.argsort(key, kind="stable")
        at = int(order[1:][key[order[1:]] == key[order[:-1]]].min())
        name = predictions["condition"].iloc[int(np.flatnonzero(keep)[at])]
        raise refuse(f"condition {name!r} lists a gene twice", at)
    del key, ordered
    known = np.append(gene.cat.categories.isin(groups["gene_id"]), False)[gene_codes]
    if not known.all():
        raise refuse("gene not in the gene universe", int(np.argmin(known)), column="gene_id")
    kb_counts = pd.Series(
        np.bincount(gene_codes[a == 1], minlength=len(gene.cat.categories)),
        index=gene.cat.categories,
    )
    per_gene = groups.assign(
        kb_outputs=kb_counts.reindex(groups["gene_id"]).fillna(0).astype(int).to_numpy()
    )
    rows = [_usage_row("all", "all", per_gene, len(conditions))]
    for column in group_columns:
        for value, part in per_gene.groupby(column, observed=False, sort=True):
            rows.append(_usage_row(column, str(value), part, len(conditions)))
    return pd.DataFrame(rows)


def _positions(values: pd.Series, chosen: pd.Index) -> np.ndarray:
    """The position in `chosen` (unique) of each value, -1 for values outside it, (len,)
    int32, looked up once per distinct value: a long prediction table repeats each row
    name once per gene and each gene once per row, and `isin` on it costs GBs."""
    categorical = values.astype("category")
    found = np.append(chosen.get_indexer(categorical.cat.categories), -1).astype(np.int32)
    return found[categorical.cat.codes.to_numpy()]


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
