"""Complexes in CollecTRI and OmniPath tables become their member genes, or are dropped."""

import io

import pandas as pd
import pytest

from aligned_kedro.core.data.harmonise import edge_effects, harmonise_edges
from aligned_kedro.core.data.harmonise.complexes import (
    SHIPPED_TABLE,
    complex_members,
    complex_table,
)
from aligned_kedro.core.errors import InputError

AP1 = ("FOS", "FOSB", "FOSL1", "FOSL2", "JUN", "JUNB", "JUND")
NFKB = ("NFKB1", "NFKB2", "REL", "RELA", "RELB")
SYMBOLS = [*AP1, *NFKB, "STAT1", "TNF", "IL6"]
GENES = pd.DataFrame({"gene_id": [f"ENSG{i:02d}" for i in range(len(SYMBOLS))]})
GENES["gene_name"] = SYMBOLS
ID = dict(zip(SYMBOLS, GENES["gene_id"], strict=True))
COLLECTRI = "source,target,weight\nAP1,TNF,1\nNFKB,IL6,-1\nSTAT1,IL6,1\nnfkb,TNF,1\n"


def read(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), sep=None, engine="python", keep_default_na=False)


def report_rows(report: pd.DataFrame, action: str) -> dict[str, int]:
    rows = report[report["action"].eq(action)]
    return dict(zip(rows["reason"], rows["rows"], strict=True))


def test_the_shipped_table_names_the_members_of_ap1_and_nfkb():
    table = complex_table()
    members = table.groupby("complex")["member"].apply(tuple).to_dict()
    assert members == {"AP1": AP1, "NFKB": NFKB}
    header = SHIPPED_TABLE.read_text().splitlines()[0]
    assert header.startswith("# aligned-kedro complex member table, version 1")


def test_collectri_complexes_become_one_edge_per_member():
    effects, report = edge_effects(read(COLLECTRI), format="collectri")
    assert len(effects) == 7 + 5 + 1 + 5
    ap1 = effects[effects["target"].eq("TNF") & effects["effect"].eq("+")]
    assert set(ap1["regulator"]) == {*AP1, *NFKB}
    assert report_rows(report, "expanded") == {
        f"complex regulator: AP1 -> {';'.join(AP1)}": 1,
        f"complex regulator: NFKB -> {';'.join(NFKB)}": 1,
        f"complex regulator: nfkb -> {';'.join(NFKB)}": 1,
    }
    edges, _ = harmonise_edges(effects, GENES)
    signed = set(zip(edges["regulator"], edges["target"], edges["sign"], strict=True))
    assert (ID["FOSL2"], ID["TNF"], 1) in signed and (ID["RELB"], ID["IL6"], -1) in signed
    assert len(edges) == 7 + 5 + 1 + 5


def test_complexes_can_be_dropped_and_are_counted():
    effects, report = edge_effects(read(COLLECTRI), format="collectri", complexes="drop")
    assert effects["regulator"].tolist() == ["STAT1"]
    assert report_rows(report, "dropped") == {
        "complex regulator: AP1": 1,
        "complex regulator: NFKB": 1,
        "complex regulator: nfkb": 1,
    }
    with pytest.raises(InputError, match="unknown complex policy 'split'"):
        edge_effects(read(COLLECTRI), format="collectri", complexes="split")


def test_a_member_missing_from_the_gene_table_is_dropped_alone():
    effects, _ = edge_effects(read("source,target,weight\nAP1,TNF,1\n"), format="collectri")
    genes = GENES[~GENES["gene_name"].eq("FOSB")]
    edges, report = harmonise_edges(effects, genes)
    assert len(edges) == 6
    assert report_rows(report, "dropped") == {"regulator not a gene: FOSB": 1}


def test_omnipath_complexes_split_on_their_own_notation():
    columns = "source\ttarget\tsource_genesymbol\ttarget_genesymbol\tis_directed\t"
    columns += "consensus_stimulation\tconsensus_inhibition\n"
    raw = read(
        columns
        + "COMPLEX:P05412_P01100\tP01375\tJUN_FOS\tTNF\t1\t1\t0\n"
        + "P42224\tP05231\tSTAT1\tIL6\t1\t0\t1\n"
    )
    effects, report = edge_effects(raw, format="omnipath")
    assert sorted(zip(effects["regulator"], effects["target"], strict=True)) == [
        ("FOS", "TNF"),
        ("JUN", "TNF"),
        ("STAT1", "IL6"),
    ]
    assert report_rows(report, "expanded") == {"complex regulator: JUN_FOS -> JUN;FOS": 1}
    assert complex_members("COMPLEX:RELA_NFKB1", {}) == ("RELA", "NFKB1")
    assert complex_members("STAT1", {}) is None


def test_other_formats_keep_underscored_names():
    raw = read("regulator,target,effect\nyjhU_x,b0002,+\n")
    effects, report = edge_effects(raw, format="regulondb")
    assert effects["regulator"].tolist() == ["yjhU_x"] and report.empty


def test_a_complex_table_needs_its_columns(tmp_path):
    path = tmp_path / "complexes.tsv"
    path.write_text("# mine\nname\tmember\nX\tA\n")
    with pytest.raises(InputError, match="complex"):
        complex_table(path)
    path.write_text("complex\tmember\nX\t\n")
    with pytest.raises(InputError, match="empty complex or member"):
        complex_table(path)
    path.write_text("complex\tmember\nMYCMAX\tMYC\nMYCMAX\tMAX\n")
    assert complex_table(path)["member"].tolist() == ["MYC", "MAX"]
