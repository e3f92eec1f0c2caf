"""Renamed human symbols: a KB and a gene table that name a gene differently still meet,
through an HGNC-style alias table, and the edges that recovers are reported."""

import pandas as pd
import pytest

from aligned_kedro.core.data.harmonise import harmonise_edges
from aligned_kedro.core.data.harmonise.aliases import alias_matches, alias_pairs
from aligned_kedro.core.data.harmonise.names import name_resolver
from aligned_kedro.core.errors import InputError

# HGNC's complete set: approved symbol, previous and alias symbols joined by "|"
HGNC = pd.DataFrame(
    {
        "symbol": ["BMAL1", "BMAL2", "CARS1", "TP53", "MYC", "AMB1", "AMB2"],
        "prev_symbol": ["ARNTL", "ARNTL2", "CARS", None, None, None, None],
        "alias_symbol": ["MOP3|bHLHe5", "MOP9", None, "p53|LFS1", "MYCC|AMB", "AMB", None],
    }
)
# the measured genes under the names the data use: old ones, current ones, an ambiguous one
GENES = pd.DataFrame(
    {
        "gene_id": ["E1", "E2", "E3", "E4", "E5", "E6", "E7"],
        "gene_name": ["ARNTL", "ARNTL2", "CARS1", "TP53", "MYC", "AMB1", "LFS1"],
    }
)
KB = pd.DataFrame(
    {
        "regulator": ["BMAL1", "BMAL1", "TP53", "MYC", "bmal2", "AMB", "MOP3"],
        "target": ["CARS", "MYC", "CARS", "LFS1", "CARS1", "TP53", "TP53"],
        "effect": ["+", "-", "+", "+", "-", "+", "+"],
    }
)


def matched(report: pd.DataFrame) -> dict[str, int]:
    rows = report[report["action"].eq("matched")]
    return dict(zip(rows["reason"], rows["rows"], strict=True))


def test_hgnc_columns_and_a_long_table_give_the_same_pairs():
    pairs = alias_pairs(HGNC)
    assert {("ARNTL", "BMAL1", "previous symbol"), ("bHLHe5", "BMAL1", "alias symbol")} <= set(
        pairs.itertuples(index=False, name=None)
    )
    long = alias_pairs(pd.DataFrame({"alias": ["ARNTL", " "], "symbol": ["BMAL1", "X"]}))
    assert long.values.tolist() == [["ARNTL", "BMAL1", "alias symbol"]]
    with pytest.raises(InputError, match="prev_symbol / alias_symbol"):
        alias_pairs(pd.DataFrame({"name": ["a"], "other": ["b"]}))


def test_names_match_through_the_record_of_the_measured_gene():
    found = alias_matches(GENES, HGNC, name_resolver(GENES))
    by_name = {m.name: (m.gene_name, m.kind) for m in found.values()}
    assert by_name["BMAL1"] == ("ARNTL", "approved symbol")
    assert by_name["MOP3"] == ("ARNTL", "alias symbol")
    assert by_name["BMAL2"] == ("ARNTL2", "approved symbol")
    assert by_name["CARS"] == ("CARS1", "previous symbol")
    assert by_name["MYCC"] == ("MYC", "alias symbol")
    # AMB belongs to two records; p53 would name TP53 and LFS1, a measured gene that HGNC
    # lists as an alias of TP53; LFS1 is a measured gene's own name
    assert not {"AMB", "p53", "LFS1"} & set(by_name)


def test_an_approved_symbol_of_another_record_is_not_an_alias():
    hgnc = pd.DataFrame({"symbol": ["NEW", "OLD"], "prev_symbol": ["OLD", None]})
    genes = pd.DataFrame({"gene_id": ["E1"], "gene_name": ["NEW"]})
    assert alias_matches(genes, hgnc, name_resolver(genes)) == {}


def test_harmonisation_recovers_edges_through_aliases_and_reports_them():
    without, report = harmonise_edges(KB, GENES)
    assert len(without) == 1 and not matched(report)
    edges, report = harmonise_edges(KB, GENES, symbol_aliases=HGNC)
    pairs = set(zip(edges["regulator"], edges["target"], edges["sign"], strict=True))
    assert pairs == {
        ("E1", "E3", 1),
        ("E1", "E5", -1),
        ("E4", "E3", 1),
        ("E5", "E7", 1),
        ("E2", "E3", -1),
        ("E1", "E4", 1),
    }
    assert matched(report) == {
        "symbol alias: BMAL1 (approved symbol) -> ARNTL": 2,
        "symbol alias: bmal2 (approved symbol) -> ARNTL2": 1,
        "symbol alias: MOP3 (alias symbol) -> ARNTL": 1,
        "symbol alias: CARS (previous symbol) -> CARS1": 2,
    }
    dropped = report[report["action"].eq("dropped")]
    assert dropped["reason"].tolist() == ["regulator not a gene: AMB"]


def test_a_gene_name_wins_over_an_alias():
    genes = pd.DataFrame({"gene_id": ["E1", "E2"], "gene_name": ["ARNTL", "MOP3"]})
    kb = pd.DataFrame(
        {"regulator": ["MOP3", "BMAL1"], "target": ["ARNTL"] * 2, "effect": ["+"] * 2}
    )
    edges, report = harmonise_edges(kb, genes, symbol_aliases=HGNC)
    assert edges[["regulator", "target"]].values.tolist() == [["E2", "E1"]]
    # both measured genes belong to BMAL1's record: BMAL1 names neither
    assert not matched(report)
    assert report.loc[report["action"].eq("dropped"), "reason"].tolist() == [
        "regulator not a gene: BMAL1"
    ]
