"""Compiling signed edge tables into R+(0), R-(0) (appendix B.1, B.2)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from aligned_kedro.core.errors import InputError
from aligned_kedro.core.knowledge.deduction import kb_statistics
from aligned_kedro.core.knowledge.kb import KnowledgeBase, compile_kb

GENES = ("a", "b", "c", "d", "e")
B2_POS = np.array(
    [[1, 0, 1, 0, 1], [0, 1, 0, 0, 1], [0, 0, 1, 1, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1]]
)
B2_NEG = np.array(
    [[0, 1, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [1, 0, 0, 0, 1], [0, 0, 0, 0, 0]]
)


def b2_edges() -> pd.DataFrame:
    """The 5-gene GRN of appendix B.2 (figure 6) as an edge table."""
    return pd.DataFrame(
        {
            "regulator": ["a", "a", "a", "b", "c", "d", "d"],
            "target": ["b", "c", "e", "e", "d", "a", "e"],
            "sign": [-1, 1, 1, 1, 1, -1, -1],
            "evidence": ["x", "y", "z", "u", "v", "w", "t"],
        }
    )


def test_compile_matches_appendix_b2() -> None:
    kb = compile_kb(b2_edges(), GENES)
    np.testing.assert_array_equal(kb.r_pos.toarray(), B2_POS)
    np.testing.assert_array_equal(kb.r_neg.toarray(), B2_NEG)
    assert kb.r_pos.dtype == np.float64 and sp.isspmatrix_csr(kb.r_pos)
    assert kb.n_genes == 5
    assert kb.index == {g: i for i, g in enumerate(GENES)}
    np.testing.assert_array_equal(kb.regulators, [0, 1, 2, 3])


def test_edges_round_trip_without_added_diagonal() -> None:
    table = b2_edges()
    kb = compile_kb(table, GENES)
    got = kb.edges().sort_values(["regulator", "target"], ignore_index=True)
    want = table[["regulator", "target", "sign"]].sort_values(
        ["regulator", "target"], ignore_index=True
    )
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assert "evidence" in kb.edge_table.columns


def test_input_self_edge_survives_round_trip() -> None:
    table = pd.DataFrame({"regulator": ["a", "b"], "target": ["a", "c"], "sign": [1, 1]})
    kb = compile_kb(table, ["a", "b", "c"])
    assert set(map(tuple, kb.edges().to_numpy().tolist())) == {("a", "a", 1), ("b", "c", 1)}
    np.testing.assert_array_equal(kb.regulators, [1])


def test_direct_construction_sets_diagonal_and_derives_edges() -> None:
    kb = KnowledgeBase(GENES, sp.csr_matrix(B2_POS - np.eye(5, dtype=int)), sp.csr_matrix(B2_NEG))
    np.testing.assert_array_equal(kb.r_pos.toarray(), B2_POS)
    assert len(kb.edges()) == 7
    assert set(kb.edges()["sign"]) == {1, -1}


def test_direct_construction_rejects_bad_shape_and_values() -> None:
    with pytest.raises(InputError, match="shape"):
        KnowledgeBase(GENES, sp.csr_matrix((4, 4)), sp.csr_matrix((5, 5)))
    with pytest.raises(InputError, match="0/1"):
        KnowledgeBase(GENES, sp.csr_matrix(2 * B2_POS), sp.csr_matrix(B2_NEG))


def test_string_signs_and_duplicates_collapsed(caplog: pytest.LogCaptureFixture) -> None:
    table = pd.DataFrame(
        {
            "regulator": ["a", "a", "a", "b"],
            "target": ["b", "b", "c", "c"],
            "sign": ["+", "+", "-", -1.0],
        }
    )
    with caplog.at_level(logging.INFO, logger="aligned_kedro.core.knowledge.kb"):
        kb = compile_kb(table, ["a", "b", "c"])
    assert kb.n_duplicates == 1
    assert "collapsed 1 duplicate" in caplog.text
    assert kb.r_pos[0, 1] == 1 and kb.r_neg[0, 2] == 1 and kb.r_neg[1, 2] == 1
    assert kb.edges()["sign"].tolist() == [1, -1, -1]


@pytest.mark.parametrize("column", ["regulator", "target", "sign"])
def test_missing_column_named(column: str) -> None:
    table = b2_edges().drop(columns=column)
    with pytest.raises(InputError, match=column) as err:
        compile_kb(table, GENES, source="omnipath.csv")
    assert err.value.column == column and err.value.source == "omnipath.csv"
    assert "omnipath.csv" in str(err.value)


def test_unknown_gene_named() -> None:
    table = b2_edges()
    table.loc[4, "target"] = "ZZZ"
    with pytest.raises(InputError, match="ZZZ") as err:
        compile_kb(table, GENES)
    assert (err.value.gene, err.value.row, err.value.column) == ("ZZZ", 4, "target")


def test_nan_named() -> None:
    table = b2_edges()
    table.loc[2, "regulator"] = np.nan
    with pytest.raises(InputError, match="missing value") as err:
        compile_kb(table, GENES)
    assert (err.value.row, err.value.column) == (2, "regulator")


@pytest.mark.parametrize("bad", [0, 2, "up", True])
def test_bad_sign_named(bad: object) -> None:
    table = b2_edges().astype({"sign": object})
    table.loc[3, "sign"] = bad
    with pytest.raises(InputError, match=repr(bad)) as err:
        compile_kb(table, GENES)
    assert (err.value.row, err.value.column) == (3, "sign")


def test_duplicate_gene_list() -> None:
    with pytest.raises(InputError, match="duplicate gene") as err:
        compile_kb(b2_edges(), [*GENES, "c"])
    assert err.value.gene == "c"


def conflicting() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "regulator": ["a", "a", "b", "b"],
            "target": ["b", "c", "c", "c"],
            "sign": [1, 1, 1, -1],
        }
    )


def test_conflict_error_names_genes_and_rows() -> None:
    with pytest.raises(InputError, match="conflicting") as err:
        compile_kb(conflicting(), ["a", "b", "c"])
    message = str(err.value)
    assert "'b' -> 'c'" in message and "[2, 3]" in message


def test_conflict_drop(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="aligned_kedro.core.knowledge.kb"):
        kb = compile_kb(conflicting(), ["a", "b", "c"], conflict="drop")
    assert kb.n_conflicts_dropped == 1
    assert "dropped 1" in caplog.text
    assert kb.r_pos[1, 2] == 0 and kb.r_neg[1, 2] == 0
    assert len(kb.edges()) == 2


def test_conflict_both() -> None:
    kb = compile_kb(conflicting(), ["a", "b", "c"], conflict="both")
    assert kb.r_pos[1, 2] == 1 and kb.r_neg[1, 2] == 1
    assert len(kb.edges()) == 4


def test_conflict_policy_validated() -> None:
    with pytest.raises(InputError, match="conflict"):
        compile_kb(conflicting(), ["a", "b", "c"], conflict="first")  # type: ignore[arg-type]


def test_kb_statistics_b2() -> None:
    kb = compile_kb(b2_edges(), GENES)
    stats = kb_statistics(kb, 2, "integer")
    assert stats == {
        "n_genes": 5,
        "n_regulators": 4,
        "n_targets": 5,
        "n_edges_pos": 4,
        "n_edges_neg": 3,
        "closure_density": pytest.approx(13 / 20),
    }
    assert kb_statistics(kb, 0, "boolean")["closure_density"] == pytest.approx(7 / 20)
