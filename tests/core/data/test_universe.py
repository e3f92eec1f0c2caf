"""The gene universe with latent KB genes: known answers through unmeasured regulators,
the paths scope against every KB gene, and the counts against brute force."""

from __future__ import annotations

import logging
from collections import deque

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aligned_kedro.core import compile_kb, deduce
from aligned_kedro.core.data.design import perturbation_coverage
from aligned_kedro.core.data.harmonise import (
    gene_universe,
    harmonise_edges,
    resolve_perturbations,
    unknown_perturbations,
    with_kb_genes,
)
from aligned_kedro.core.errors import InputError

NAMES = ["A", "B", "C", "D", "E", "F"]
GENES = pd.DataFrame({"gene_id": NAMES, "gene_name": [n.lower() for n in NAMES]})


def signed(*rows: tuple[str, str, int]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["regulator", "target", "sign"])


def deduced(universe: pd.DataFrame, edges: pd.DataFrame, perturbed: dict[str, int], k: int):
    """δ_KB of one input over the universe, as a gene -> sign dict."""
    genes = universe["gene_id"].tolist()
    x = np.zeros((1, len(genes)), dtype=np.int8)
    for gene, sign in perturbed.items():
        x[0, genes.index(gene)] = sign
    delta = deduce(compile_kb(edges, genes, conflict="both"), x, k)[0]
    return dict(zip(genes, delta.tolist(), strict=True))


def test_a_chain_through_an_unmeasured_regulator_deduces_the_measured_target():
    """A -| B -> C with B unmeasured: over-expressing A represses B, so C goes down; with
    B dropped, nothing reaches C."""
    edges = signed(("A", "B", -1), ("B", "C", 1))
    latent, kept, _, counts = gene_universe(["A", "C", "D"], GENES, edges, kb_genes="latent", k=1)
    assert latent["gene_id"].tolist() == ["A", "C", "D", "B"]
    assert latent["measured"].tolist() == [True, True, True, False]
    assert latent.set_index("gene_id").loc["B", ["is_regulator", "in_kb"]].tolist() == [True, True]
    assert len(kept) == 2
    assert deduced(latent, kept, {"A": 1}, k=1) == {"A": 1, "C": -1, "D": 0, "B": -1}
    dropped, none, _, _ = gene_universe(["A", "C", "D"], GENES, edges, kb_genes="drop", k=1)
    assert dropped["gene_id"].tolist() == ["A", "C", "D"] and none.empty
    assert deduced(dropped, none, {"A": 1}, k=1) == {"A": 1, "C": 0, "D": 0}
    assert counts["relations_drop"] == 0 and counts["relations_latent"] == 2  # (A, C), (B, C)


def test_paths_keep_what_reaches_a_measured_gene_and_every_perturbed_kb_gene():
    """E regulates only an unmeasured sink F: left out unless perturbed; a path longer
    than k+1 interactions does not make a gene latent."""
    edges = signed(("A", "B", 1), ("B", "C", 1), ("E", "F", -1), ("D", "E", 1))
    universe, _, report, counts = gene_universe(["C"], GENES, edges, kb_genes="latent", k=0)
    assert universe["gene_id"].tolist() == ["C", "B"]  # A -> B -> C is 2 interactions > k+1
    universe, _, _, _ = gene_universe(["C"], GENES, edges, kb_genes="latent", k=1)
    assert universe["gene_id"].tolist() == ["C", "A", "B"]
    universe, _, _, _ = gene_universe(["C"], GENES, edges, kb_genes="latent", k=1, perturbed={"E"})
    assert universe["gene_id"].tolist() == ["C", "A", "B", "E"]
    every, _, _, _ = gene_universe(["C"], GENES, edges, kb_genes="latent", latent_scope="all", k=1)
    assert every["gene_id"].tolist() == ["C", "A", "B", "D", "E", "F"]
    assert counts == {
        "kb_genes": 6,
        "measured_genes": 1,
        "genes_drop": 1,
        "edges_drop": 0,
        "relations_drop": 0,
        "genes_latent": 2,
        "edges_latent": 1,
        "relations_latent": 1,
        "latent_genes": 1,
        "kb_genes_dropped": 4,
        "edges": 1,
    }
    rows = report.set_index("reason")
    assert rows.loc["KB genes not measured, kept as latent genes", "genes"] == 1
    assert rows.loc["KB genes not measured (dropped with their edges)", "edges"] == 3


def test_the_log_lines_format_and_bad_options_are_refused(caplog: pytest.LogCaptureFixture):
    edges = signed(("A", "B", -1), ("B", "C", 1))
    with caplog.at_level(logging.INFO):
        gene_universe(["A", "C"], GENES, edges, kb_genes="latent", k=1)
    messages = [r.getMessage() for r in caplog.records]
    assert "gene universe: 2 measured and 1 latent genes (kb_genes: latent)" in messages[0]
    assert "2 with latent (paths)" in messages[1]
    with pytest.raises(InputError, match="kb_genes must be one of"):
        gene_universe(["A"], GENES, edges, kb_genes="keep", k=1)
    with pytest.raises(InputError, match="needs the closure depth k"):
        gene_universe(["A"], GENES, edges, kb_genes="latent")
    with pytest.raises(InputError, match="1 KB genes are not measured.*latent keeps them"):
        gene_universe(["A", "C"], GENES, edges, kb_genes="error", k=1)


def reach_by_search(edges: pd.DataFrame, source: str, steps: int) -> set[str]:
    """Genes reached from `source` by 1..steps interactions (breadth-first)."""
    out: dict[str, set[str]] = {}
    for r, t in zip(edges["regulator"], edges["target"], strict=True):
        out.setdefault(r, set()).add(t)
    seen, queue = {source: 0}, deque([source])
    while queue:
        gene = queue.popleft()
        if seen[gene] == steps:
            continue
        for nxt in out.get(gene, ()):
            if nxt not in seen:
                seen[nxt] = seen[gene] + 1
                queue.append(nxt)
    return set(seen) - {source}


@st.composite
def graphs(draw: st.DrawFn) -> tuple[pd.DataFrame, list[str], int]:
    n = draw(st.integers(3, 9))
    names = [f"g{i}" for i in range(n)]
    pairs = draw(
        st.lists(
            st.tuples(st.sampled_from(names), st.sampled_from(names), st.sampled_from([-1, 1])),
            max_size=3 * n,
            unique_by=lambda e: (e[0], e[1]),
        )
    )
    edges = pd.DataFrame(pairs, columns=["regulator", "target", "sign"])
    edges = edges[edges["regulator"] != edges["target"]].reset_index(drop=True)
    measured = draw(st.lists(st.sampled_from(names), min_size=1, max_size=n, unique=True))
    return edges, measured, draw(st.integers(0, 3))


@settings(max_examples=60, deadline=None)
@given(graphs())
def test_paths_deduce_as_every_kb_gene_and_relations_match_a_search(case):
    """On the measured genes, δ_KB over the paths scope equals δ_KB over every KB gene for
    any input, and the relations are the (regulator, measured gene) pairs a search finds."""
    edges, measured, k = case
    names = sorted(set(measured) | set(edges["regulator"]) | set(edges["target"]))
    genes = pd.DataFrame({"gene_id": names, "gene_name": names})
    paths, kept_p, _, counts = gene_universe(measured, genes, edges, kb_genes="latent", k=k)
    every, kept_a, _, _ = gene_universe(
        measured, genes, edges, kb_genes="latent", latent_scope="all", k=k
    )
    sources = paths["gene_id"].tolist()
    columns = {}
    for universe, kept in ((paths, kept_p), (every, kept_a)):
        genes_u = universe["gene_id"].tolist()
        x = np.zeros((2 * len(sources), len(genes_u)), dtype=np.int8)
        for i, source in enumerate(sources):
            x[2 * i, genes_u.index(source)], x[2 * i + 1, genes_u.index(source)] = 1, -1
        delta = deduce(compile_kb(kept, genes_u, conflict="both"), x, k)
        columns[len(columns)] = delta[:, [genes_u.index(g) for g in measured]]
    np.testing.assert_array_equal(columns[0], columns[1])
    regulators = set(edges["regulator"])
    inside = edges[edges["regulator"].isin(measured) & edges["target"].isin(measured)]
    assert counts["relations_latent"] == sum(
        len(reach_by_search(edges, r, k + 1) & set(measured)) for r in regulators
    )
    assert counts["relations_drop"] == sum(
        len(reach_by_search(inside, r, k + 1) & set(measured)) for r in set(inside["regulator"])
    )
    assert counts["relations_drop"] <= counts["relations_latent"]


def test_a_gene_table_of_measured_genes_keeps_kb_genes_by_name_as_latent_genes():
    """An h5ad lists only its measured genes: with ``unresolved: keep`` the KB's other
    genes keep their names, a knockout of one is a latent input, and its response reaches
    the measured target through an unmeasured regulator."""
    var = pd.DataFrame({"gene_id": ["ENSG1", "ENSG2"], "gene_name": ["TARGET", "OTHER"]})
    raw = pd.DataFrame(
        {"regulator": ["ATF2", "MID"], "target": ["MID", "TARGET"], "effect": ["-", "+"]}
    )
    dropped, report = harmonise_edges(raw, var)
    assert dropped.empty and "regulator not a gene: ATF2" in set(report["reason"])
    edges, report = harmonise_edges(raw, var, unresolved="keep")
    assert edges[["regulator", "target"]].values.tolist() == [["ATF2", "MID"], ["MID", "ENSG1"]]
    assert report.loc[report["action"].eq("kept"), "rows"].sum() == 2
    genes = with_kb_genes(var, edges)
    assert genes["gene_id"].tolist() == ["ENSG1", "ENSG2", "ATF2", "MID"]
    design = pd.DataFrame(
        {
            "sample_id": ["k1", "k2", "c1", "c2"],
            "condition": ["ko", "ko", "wt", "wt"],
            "role": ["perturbed", "perturbed", "control", "control"],
            "perturbation": ["atf2", "atf2", "", ""],
            "perturbation_type": ["KO", "KO", "", ""],
            "control_group": ["wt"] * 4,
        }
    )
    assert unknown_perturbations(design, genes).empty
    resolved = resolve_perturbations(design, genes)
    coverage = perturbation_coverage(
        resolved, measured=var["gene_id"], kb_genes={"ATF2", "MID", "ENSG1"}, latent=True
    )
    assert coverage.to_dict("list") == {
        "condition": ["ko"],
        "status": ["kept"],
        "detail": ["latent input: ATF2"],
    }
    universe, kept, _, _ = gene_universe(
        var["gene_id"], genes, edges, kb_genes="latent", k=1, perturbed={"ATF2"}
    )
    assert universe["gene_id"].tolist() == ["ENSG1", "ENSG2", "ATF2", "MID"]
    assert (
        deduced(universe, kept, {"ATF2": -1}, k=1)["ENSG1"] == 1
    )  # the KO lifts MID, MID activates TARGET
