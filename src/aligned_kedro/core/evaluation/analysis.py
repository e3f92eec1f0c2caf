"""Analyses of a run (sections 4.1-4.4, appendix F): consistency benchmark, GRN topology,
shortcut edges, knowledge usage and interaction recovery.

Everything takes tables and returns tables or dicts; nothing here knows of Kedro.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from aligned_kedro.core.errors import InputError
from aligned_kedro.core.evaluation.metrics import LABEL_NAMES, aggregate_table
from aligned_kedro.core.knowledge.deduction import iter_closure_blocks
from aligned_kedro.core.knowledge.kb import EDGE_COLUMNS, KnowledgeBase

CONSISTENCY = ("data_f1", "kb_f1", "balanced_f1")
PER_CLASS = tuple(
    f"{source}_{kind}_{label}"
    for source in ("data", "kb")
    for kind in ("precision", "recall")
    for label in LABEL_NAMES.values()
)
CURRENT_KB = ("kb_f1_current", "balanced_f1_current")
BENCHMARK_METRICS = (*CONSISTENCY, *CURRENT_KB, "kb_usage", *PER_CLASS)
BASELINE_METHODS = {
    "no_change": "no-change",
    "kb_only": "KB-only",
    "linear": "linear",
    "neural_only": "neural-only",
}
_ROUND_STAGE = re.compile(r"^round_(\d+)\.(align|refine)$")


# --- consistency benchmark (Figure 3, Tables 1 and 12) --------------------------------------


def stage_label(stage: str) -> tuple[str, str]:
    """(method, ALIGNED stages) of a run-summary stage: ``round_2.align`` is
    ("ALIGNED", "A-R-A"), ``baseline.kb_only`` is ("KB-only", "-")."""
    if stage.startswith("baseline."):
        name = stage.removeprefix("baseline.")
        return BASELINE_METHODS.get(name, name), "-"
    found = _ROUND_STAGE.match(stage)
    if not found:
        return stage, "-"
    steps = 2 * int(found.group(1)) - (found.group(2) == "align")
    return "ALIGNED", "-".join("AR"[i % 2] for i in range(steps))


def consistency_benchmark(summary: pd.DataFrame, source: str = "run summary") -> pd.DataFrame:
    """Mean and sample sd over seeds of every metric, per stage (Table 12).

    ``summary`` has one row per stage (and per seed where a ``seed`` column is present).
    With one seed the sd is undefined and reported as NaN; ``n_seeds`` says how many
    seeds each row averages. Stages keep their order of first appearance. A stage without
    a KB of its own (a baseline) scores its `*_current` metrics against the original KB.
    """
    for column in ("stage", *CONSISTENCY):
        if column not in summary.columns:
            raise InputError("missing column", source=source, column=column)
    table = summary.copy()
    if "seed" not in table.columns:
        table["seed"] = 0
    for current, original in zip(CURRENT_KB, ("kb_f1", "balanced_f1"), strict=True):
        if current in table.columns:
            table[current] = table[current].fillna(table[original])
    duplicated = table.duplicated(["stage", "seed"])
    if duplicated.any():
        row = table.index[duplicated.to_numpy()][0]
        raise InputError(
            f"stage {table.loc[row, 'stage']!r} appears twice for seed {table.loc[row, 'seed']!r}",
            source=source,
            row=row,
        )
    values = [m for m in BENCHMARK_METRICS if m in table.columns]
    out = aggregate_table(table, "stage", values, source=source).rename(columns={"n": "n_seeds"})
    single = out["n_seeds"] < 2
    out.loc[single, [f"{m}_sd" for m in values]] = np.nan
    order = {stage: i for i, stage in enumerate(pd.unique(table["stage"]))}
    out = out.sort_values("stage", key=lambda s: s.map(order), ignore_index=True)
    labels = out["stage"].map(stage_label)
    out.insert(1, "method", [m for m, _ in labels])
    out.insert(2, "stages", [s for _, s in labels])
    return out


# --- network topology (Figure 4b) ------------------------------------------------------------


def grn_graph(edges: pd.DataFrame, source: str = "edge table") -> nx.DiGraph:
    """Directed graph of the direct interactions: one arc per regulator-target pair (both
    signs collapse to one arc), self-loops left out."""
    for column in ("regulator", "target"):
        if column not in edges.columns:
            raise InputError("missing column", source=source, column=column)
    off = edges[edges["regulator"] != edges["target"]]
    graph = nx.DiGraph()
    graph.add_edges_from(zip(off["regulator"], off["target"], strict=True))
    return graph


def _undefined_to_nan(value: Any) -> float:
    value = float(value)
    return value if math.isfinite(value) else float("nan")


COMMUNITY_METHODS = ("greedy", "louvain")


def grn_topology(
    edges: pd.DataFrame,
    source: str = "edge table",
    *,
    communities: str = "greedy",
    seed: int = 0,
) -> dict[str, float]:
    """Modularity, degree assortativity, density and degree statistics of a GRN (Figure 4b).

    Nodes are the genes with at least one edge other than a self-loop. Modularity is that
    of the greedy (Clauset-Newman-Moore) communities on the undirected graph, or of the
    Louvain communities (``communities="louvain"``, seeded; much faster on large hubs);
    ``assortativity`` is the degree assortativity of the undirected graph and
    ``assortativity_out_in`` the directed one (out-degree of the regulator against
    in-degree of the target). An undefined coefficient (for example all degrees equal)
    is NaN. Density is arcs / (n (n - 1)).
    """
    if communities not in COMMUNITY_METHODS:
        raise InputError(
            f"communities must be one of {COMMUNITY_METHODS}, got {communities!r}", source=source
        )
    graph = grn_graph(edges, source)
    n, m = graph.number_of_nodes(), graph.number_of_edges()
    undirected = graph.to_undirected()
    out: dict[str, float] = {
        "n_nodes": n,
        "n_edges": m,
        "n_self_loops": int((edges["regulator"] == edges["target"]).sum()),
        "density": m / (n * (n - 1)) if n > 1 else float("nan"),
    }
    if undirected.number_of_edges():
        if communities == "greedy":
            found = nx.community.greedy_modularity_communities(undirected)
        else:
            found = nx.community.louvain_communities(undirected, seed=seed)
        out["n_communities"] = len(found)
        out["modularity"] = float(nx.community.modularity(undirected, found))
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            out["assortativity"] = _undefined_to_nan(
                nx.degree_assortativity_coefficient(undirected)
            )
            out["assortativity_out_in"] = _undefined_to_nan(
                nx.degree_assortativity_coefficient(graph, x="out", y="in")
            )
    else:
        out.update(
            n_communities=0, modularity=np.nan, assortativity=np.nan, assortativity_out_in=np.nan
        )
    for direction, degrees in (("in", graph.in_degree()), ("out", graph.out_degree())):
        values = np.array([d for _, d in degrees], dtype=float)
        out[f"n_{direction}_degree_positive"] = int((values > 0).sum())
        out[f"{direction}_degree_mean"] = float(values.mean()) if n else np.nan
        out[f"{direction}_degree_median"] = float(np.median(values)) if n else np.nan
        out[f"{direction}_degree_max"] = float(values.max()) if n else np.nan
    return out


def degree_table(edges: pd.DataFrame, source: str = "edge table") -> pd.DataFrame:
    """In- and out-degree of every gene of the graph (self-loops left out)."""
    graph = grn_graph(edges, source)
    genes = sorted(graph.nodes)
    return pd.DataFrame(
        {
            "gene_id": genes,
            "in_degree": [graph.in_degree(g) for g in genes],
            "out_degree": [graph.out_degree(g) for g in genes],
        }
    )


# --- direct vs indirect added edges (Table 10) ----------------------------------------------


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


# --- knowledge vs data usage (Tables 6-7) ---------------------------------------------------


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


# --- interaction recovery (appendix F.3, Table 8) -------------------------------------------


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
