"""Analyses of a run on hand-built cases with known answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aligned_kedro.core import InputError, compile_kb
from aligned_kedro.core.evaluation import analysis as A
from aligned_kedro.core.evaluation.analysis import topology


def edges(*triples: tuple[str, str, int]) -> pd.DataFrame:
    return pd.DataFrame(triples, columns=["regulator", "target", "sign"])


def cliques(*groups: str) -> pd.DataFrame:
    """Complete directed graphs on the letters of each group, all activations."""
    return edges(*((a, b, 1) for group in groups for a in group for b in group if a != b))


# --- consistency benchmark -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        ("baseline.kb_only", ("KB-only", "-")),
        ("baseline.neural_only", ("neural-only", "-")),
        ("round_1.align", ("ALIGNED", "A")),
        ("round_1.refine", ("ALIGNED", "A-R")),
        ("round_2.align", ("ALIGNED", "A-R-A")),
        ("round_2.refine", ("ALIGNED", "A-R-A-R")),
        ("baseline.static_routing", ("static routing", "-")),
        ("diagnostic.oracle_routing", ("oracle routing (upper bound, reads test labels)", "-")),
    ],
)
def test_stage_labels_follow_the_papers_tables(stage, expected):
    assert A.stage_label(stage) == expected


def summary_rows(seed: int, data: list[float]) -> pd.DataFrame:
    stages = ["baseline.neural_only", "round_1.align", "round_1.refine"]
    return pd.DataFrame(
        {
            "stage": stages,
            "seed": seed,
            "data_f1": data,
            "kb_f1": [0.5, 0.6, 0.7],
            "balanced_f1": [0.4, 0.5, 0.6],
            "kb_f1_current": [np.nan, 0.6, 0.8],
            "balanced_f1_current": [np.nan, 0.5, 0.65],
            "kb_usage": [0.0, 0.2, 0.2],
            "edges_added": [np.nan, np.nan, 3.0],
        }
    )


def test_benchmark_is_mean_and_sample_sd_over_seeds_in_stage_order():
    summary = pd.concat([summary_rows(0, [0.2, 0.3, 0.3]), summary_rows(1, [0.4, 0.5, 0.3])])
    out = A.consistency_benchmark(summary)
    assert list(out["stage"]) == ["baseline.neural_only", "round_1.align", "round_1.refine"]
    assert list(out["stages"]) == ["-", "A", "A-R"]
    assert (out["n_seeds"] == 2).all()
    assert out["data_f1_mean"].tolist() == pytest.approx([0.3, 0.4, 0.3])
    assert out["data_f1_sd"].tolist() == pytest.approx([math.sqrt(0.02), math.sqrt(0.02), 0.0])
    assert out["kb_f1_sd"].tolist() == pytest.approx([0.0, 0.0, 0.0])
    assert out["kb_f1_current_mean"].tolist() == pytest.approx([0.5, 0.6, 0.8])
    assert out["balanced_f1_current_mean"].tolist() == pytest.approx([0.4, 0.5, 0.65])


def test_routing_metrics_average_over_the_stages_that_have_them():
    """Baselines have no route_switch_share or static_gain: their cells stay empty, while
    the rounds' average over seeds."""
    rows = []
    for seed, switch in ((0, [0.1, 0.3]), (1, [0.3, 0.5])):
        found = summary_rows(seed, [0.2, 0.3, 0.3])
        found["route_switch_share"] = [np.nan, *switch]
        found["static_gain"] = [np.nan, 0.01, -0.01]
        rows.append(found)
    out = A.consistency_benchmark(pd.concat(rows))
    assert out["route_switch_share_mean"].tolist()[1:] == pytest.approx([0.2, 0.4])
    assert np.isnan(out["route_switch_share_mean"].iloc[0])
    assert out["static_gain_sd"].tolist()[1:] == pytest.approx([0.0, 0.0])
    assert list(out["stage"]) == ["baseline.neural_only", "round_1.align", "round_1.refine"]


@pytest.mark.parametrize("with_seed", [True, False])
def test_one_seed_leaves_the_sd_undefined(with_seed):
    summary = summary_rows(0, [0.2, 0.3, 0.3])
    if not with_seed:
        summary = summary.drop(columns="seed")
    out = A.consistency_benchmark(summary)
    assert (out["n_seeds"] == 1).all()
    assert out["balanced_f1_sd"].isna().all()
    assert out["balanced_f1_mean"].tolist() == pytest.approx([0.4, 0.5, 0.6])


def test_benchmark_refuses_a_stage_twice_for_one_seed():
    summary = pd.concat([summary_rows(0, [0.2, 0.3, 0.3])] * 2)
    with pytest.raises(InputError, match="appears twice"):
        A.consistency_benchmark(summary)


# --- topology ------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["greedy", "louvain"])
def test_two_disconnected_cliques_have_modularity_one_half(method):
    stats = A.grn_topology(cliques("abcd", "efgh"), communities=method)
    assert stats["n_communities"] == 2
    assert stats["modularity"] == pytest.approx(0.5)
    assert stats["n_nodes"] == 8 and stats["n_edges"] == 24
    assert stats["density"] == pytest.approx(24 / 56)
    assert math.isnan(stats["assortativity"])  # every degree equal: undefined


def test_auto_takes_greedy_up_to_the_edge_limit_and_louvain_above():
    graph = cliques("abcd", "efgh")  # 12 undirected edges
    greedy = A.grn_topology(graph, greedy_max_edges=12)
    louvain = A.grn_topology(graph, greedy_max_edges=11)
    assert greedy["community_method"] == "greedy" and louvain["community_method"] == "louvain"
    assert A.grn_topology(graph, communities="greedy", greedy_max_edges=0)["community_method"] == (
        "greedy"
    )
    assert greedy["modularity"] == pytest.approx(louvain["modularity"]) == pytest.approx(0.5)
    assert A.community_method(20_000, "auto", 20_000) == "greedy"
    assert A.community_method(20_001, "auto", 20_000) == "louvain"


def test_a_hub_regulating_leaves_is_perfectly_disassortative():
    star = edges(*(("hub", leaf, 1) for leaf in "abcde"), ("hub", "hub", 1), ("hub", "a", -1))
    stats = A.grn_topology(star)
    assert stats["assortativity"] == pytest.approx(-1.0)
    assert stats["n_self_loops"] == 1 and stats["n_edges"] == 5  # both signs of hub-a: one arc
    assert stats["out_degree_max"] == 5 and stats["in_degree_max"] == 1
    assert stats["n_out_degree_positive"] == 1 and stats["n_in_degree_positive"] == 5
    degree = A.degree_table(star).set_index("gene_id")
    assert degree.loc["hub"].tolist() == [0, 5] and degree.loc["a"].tolist() == [1, 0]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n_edges=st.integers(2, 60))
def test_topology_statistics_match_networkx(seed, n_edges):
    """Assortativity, modularity of a partition and degrees from the edge arrays equal
    networkx's on the same graph."""
    nx = pytest.importorskip("networkx")
    rng = np.random.default_rng(seed)
    genes = [f"g{i}" for i in range(12)]
    table = pd.DataFrame(
        {
            "regulator": rng.choice(genes[:5], size=n_edges),
            "target": rng.choice(genes, size=n_edges),
            "sign": rng.choice([1, -1], size=n_edges),
        }
    )
    stats = A.grn_topology(table, communities="greedy")
    graph = topology.grn_graph(table)
    if not graph.number_of_edges():
        return
    undirected = graph.to_undirected()
    expected = {
        "assortativity": nx.degree_assortativity_coefficient(undirected),
        "assortativity_out_in": nx.degree_assortativity_coefficient(graph, x="out", y="in"),
    }
    for key, value in expected.items():
        if math.isfinite(value):
            assert stats[key] == pytest.approx(value, abs=1e-9), key
        else:
            assert math.isnan(stats[key]), key
    nodes = list(undirected.nodes)
    code = {g: i for i, g in enumerate(nodes)}
    pairs = np.unique(np.sort([[code[u], code[v]] for u, v in undirected.edges], axis=1), axis=0)
    labels = rng.integers(0, 3, size=len(nodes))
    parts = [{i for i in range(len(nodes)) if labels[i] == c} for c in range(3)]
    parts = [p for p in parts if p]
    by_name = [{nodes[i] for i in p} for p in parts]
    assert topology._modularity(pairs, len(nodes), parts) == pytest.approx(
        nx.community.modularity(undirected, by_name), abs=1e-9
    )
    degree = A.degree_table(table).set_index("gene_id")
    assert degree["in_degree"].to_dict() == dict(graph.in_degree())
    assert degree["out_degree"].to_dict() == dict(graph.out_degree())


def test_topology_of_a_graph_without_edges_is_undefined_not_an_error():
    stats = A.grn_topology(edges(("a", "a", 1)))
    assert stats["n_nodes"] == 0 and math.isnan(stats["modularity"])


# --- direct vs indirect added edges --------------------------------------------------------

CHAIN = edges(("a", "b", 1), ("b", "c", -1), ("c", "d", 1))
GENES = list("abcde")


def test_added_edges_are_direct_shortcuts_or_new_against_the_original_chain():
    kb = compile_kb(CHAIN, GENES)
    added = edges(
        ("a", "b", 1),  # an original edge
        ("a", "b", -1),  # its pair, with the other sign
        ("a", "c", -1),  # a -> b -| c: a same-sign shortcut within k+1 = 2 steps
        ("a", "c", 1),  # the opposite sign of that path
        ("a", "d", -1),  # three steps: beyond k = 1
        ("b", "a", 1),  # against the arrows
        ("e", "a", -1),  # e regulates nothing
    )
    out = A.classify_added_edges(kb, added, k=1)
    assert out["kind"].tolist() == [
        "direct",
        "direct_other_sign",
        "indirect_same_sign",
        "indirect_any_sign",
        "new",
        "new",
        "new",
    ]
    assert out["indirect_any_sign"].tolist() == [False, False, True, True, False, False, False]
    deeper = A.classify_added_edges(kb, added, k=2)
    assert deeper["kind"].iloc[4] == "indirect_same_sign"
    summary = A.shortcut_summary(out)
    assert summary["n_added"] == 7 and summary["n_direct"] == 1
    assert summary["n_direct_other_sign"] == 1
    assert summary["n_indirect_same_sign"] == 1 and summary["n_indirect_any_sign"] == 2
    assert summary["share_new"] == pytest.approx(3 / 7)


def test_no_added_edges_give_an_empty_classification():
    kb = compile_kb(CHAIN, GENES)
    out = A.classify_added_edges(kb, edges(), k=2)
    assert out.empty and A.shortcut_summary(out)["n_added"] == 0


def test_an_added_edge_on_an_unknown_gene_names_it():
    kb = compile_kb(CHAIN, GENES)
    with pytest.raises(InputError, match="zz"):
        A.classify_added_edges(kb, edges(("a", "zz", 1)), k=1)


# --- knowledge usage -----------------------------------------------------------------------


def usage_inputs() -> tuple[pd.DataFrame, pd.DataFrame]:
    predictions = pd.DataFrame(
        [
            ("c1", "g1", 0, 1, 0),
            ("c1", "g2", 1, 0, 1),  # kept because y_hat != 0, but a = 0
            ("c2", "g1", 0, 1, -1),
            ("c2", "g3", 0, 1, 0),
            ("c3", "g4", 0, 1, 0),  # another condition: not counted
        ],
        columns=["condition", "gene_id", "y_hat", "a", "y_bar"],
    )
    groups = pd.DataFrame({"gene_id": ["g1", "g2", "g3", "g4"], "group": list("AABB")})
    return predictions, groups


def test_usage_counts_the_omitted_zero_rows_in_the_denominator():
    predictions, groups = usage_inputs()
    out = A.knowledge_usage(predictions, ["c1", "c2"], groups, ["group"]).set_index("group")
    assert out.loc["all", ["n_outputs", "kb_outputs"]].tolist() == [8, 3]
    assert out["kb_usage"].to_dict() == pytest.approx({"all": 3 / 8, "A": 2 / 4, "B": 1 / 4})
    assert out["data_usage"].to_dict() == pytest.approx({"all": 5 / 8, "A": 0.5, "B": 0.75})


def test_usage_leaves_out_skipped_genes_and_reads_categorical_tables():
    predictions, groups = usage_inputs()
    latent = pd.DataFrame([("c1", "g9", 1, 1, 1)], columns=predictions.columns)
    table = pd.concat([predictions, latent], ignore_index=True).astype(
        {"condition": "category", "gene_id": "category"}
    )
    out = A.knowledge_usage(table, ["c1", "c2"], groups, ["group"], skip=["g9"])
    expected = A.knowledge_usage(predictions, ["c1", "c2"], groups, ["group"])
    pd.testing.assert_frame_equal(out, expected)
    with pytest.raises(InputError, match="g9") as raised:
        A.knowledge_usage(table, ["c1", "c2"], groups, ["group"])
    assert raised.value.row == len(predictions)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.assign(a=p["a"].replace(1, 2)), "a must be 0 or 1"),
        (lambda p: pd.concat([p, p.iloc[[0]]]), "lists a gene twice"),
        (lambda p: p.assign(gene_id=p["gene_id"].replace("g3", "g9")), "g9"),
    ],
)
def test_bad_prediction_tables_are_refused_with_the_gene(change, message):
    predictions, groups = usage_inputs()
    with pytest.raises(InputError, match=message):
        A.knowledge_usage(change(predictions), ["c1", "c2"], groups, ["group"])


def test_degree_groups_bin_the_kb_degree_and_mark_regulators():
    hub = edges(*(("h", t, 1) for t in "abcdef"), ("a", "b", -1), ("a", "b", 1), ("a", "a", 1))
    out = A.degree_groups(hub, ["h", "a", "b", "z"], [1, 5, 10]).set_index("gene_id")
    assert out["kb_degree"].to_dict() == {"h": 6, "a": 2, "b": 2, "z": 0}
    assert out["degree_bin"].astype(str).to_dict() == {
        "h": "[5,10)",
        "a": "[1,5)",
        "b": "[1,5)",
        "z": "0",
    }
    assert list(out["degree_bin"].cat.categories) == ["0", "[1,5)", "[5,10)", ">=10"]
    assert out["role"].to_dict() == {
        "h": "regulator",
        "a": "regulator",
        "b": "target only",
        "z": "target only",
    }


# --- interaction recovery ------------------------------------------------------------------

KB = edges(
    ("a", "b", 1),
    ("a", "b", -1),
    ("a", "c", -1),
    ("a", "a", 1),
    ("b", "c", 1),
    ("b", "d", -1),
    ("c", "d", 1),
)


def test_removals_are_drawn_from_knocked_out_regulators_only():
    kept, removed = A.sample_removals(KB, {"a", "b"}, seed=1, count=4)
    assert len(removed) == 5 and len(kept) == len(KB) - 5  # all four pairs; a-b has two signs
    assert set(removed["regulator"]) <= {"a", "b"}
    assert not (removed["regulator"] == removed["target"]).any()
    together = pd.concat([kept, removed]).sort_values(["regulator", "target", "sign"])
    pd.testing.assert_frame_equal(
        together.reset_index(drop=True),
        KB.sort_values(["regulator", "target", "sign"]).reset_index(drop=True),
    )


def test_removals_depend_on_the_seed_not_on_the_row_order():
    _, first = A.sample_removals(KB, {"a", "b"}, seed=7, count=2)
    _, shuffled = A.sample_removals(KB.iloc[::-1], {"a", "b"}, seed=7, count=2)
    pd.testing.assert_frame_equal(first, shuffled)
    _, half = A.sample_removals(KB, {"a", "b"}, seed=0, fraction=0.5)
    assert len(half.drop_duplicates(["regulator", "target"])) == 2


def test_a_removed_pair_loses_both_signs():
    kept, removed = A.sample_removals(KB, {"a"}, seed=3, count=2)
    assert set(removed.itertuples(index=False, name=None)) == {
        ("a", "b", 1),
        ("a", "b", -1),
        ("a", "c", -1),
    }
    assert kept["regulator"].tolist() == ["a", "b", "b", "c"]  # a's self-loop stays


@pytest.mark.parametrize(
    "kwargs",
    [{"count": 5}, {"count": 0}, {}, {"count": 1, "fraction": 0.5}, {"fraction": 1.5}],
)
def test_impossible_removals_are_refused(kwargs):
    with pytest.raises(InputError):
        A.sample_removals(KB, {"a", "b"}, seed=0, **kwargs)


@settings(max_examples=30, deadline=None)
@given(
    pairs=st.sets(st.tuples(st.sampled_from("abcdef"), st.sampled_from("abcdef")), min_size=1),
    seed=st.integers(0, 2**16),
    data=st.data(),
)
def test_removals_split_the_kb_into_kept_and_removed(pairs, seed, data):
    kb = edges(*((r, t, s) for r, t in sorted(pairs) for s in (1, -1)[: 1 + (r < t)]))
    knocked = {"a", "b", "c"}
    eligible = kb["regulator"].isin(knocked) & (kb["regulator"] != kb["target"])
    n_candidates = len(kb[eligible].drop_duplicates(["regulator", "target"]))
    if n_candidates == 0:
        with pytest.raises(InputError):
            A.sample_removals(kb, knocked, seed=seed, count=1)
        return
    count = data.draw(st.integers(1, n_candidates))
    kept, removed = A.sample_removals(kb, knocked, seed=seed, count=count)
    assert len(removed.drop_duplicates(["regulator", "target"])) == count
    assert len(kept) + len(removed) == len(kb)
    kept_pairs = set(kept[["regulator", "target"]].itertuples(index=False, name=None))
    assert not kept_pairs & set(removed[["regulator", "target"]].itertuples(index=False, name=None))


def test_recovery_counts_edges_back_with_their_sign():
    removed = edges(("a", "b", 1), ("a", "c", -1), ("b", "d", -1))
    refined = pd.DataFrame(
        [
            ("a", "b", 1, "added"),
            ("a", "c", 1, "added"),  # the pair, with the wrong sign
            ("b", "d", -1, "removed"),  # not an edge of the refined KB
            ("c", "d", 1, "kept"),
        ],
        columns=["regulator", "target", "sign", "status"],
    )
    out = A.count_recovery(removed, refined)
    assert out["recovered"].tolist() == [True, False, False]
    assert out["recovered_any_sign"].tolist() == [True, True, False]
    summary = A.recovery_summary({0: out, 1: out.assign(recovered=True)}).set_index("replicate")
    assert summary.loc["0", ["recovered", "total"]].tolist() == [1, 3]
    assert summary.loc["mean", "recovered"] == pytest.approx(2.0)
    assert summary.loc["mean", "recovery_rate"] == pytest.approx((1 / 3 + 1) / 2)
    assert summary.loc["0", "edges"] == "a -> b, a -| c, b -| d"
