"""Every supported GRN resource normalises to the same signed edges over gene IDs."""

import io

import pandas as pd
import pytest

from aligned_kedro.core.data.harmonise import edge_effects, harmonise_edges, name_resolver
from aligned_kedro.core.errors import InputError

GENES = pd.DataFrame(
    {
        "gene_id": ["ENSG01", "ENSG02", "ENSG03", "ENSG04"],
        "gene_name": ["STAT1", "IRF1", "MYC", "TP53"],
        "entrez": ["6772", "3659", "4609", "7157"],
    }
)
SYNONYMS = pd.DataFrame({"name": ["p53"], "genes": ["TP53"]})


def read(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), sep=None, engine="python", keep_default_na=False)


def signed(raw: pd.DataFrame, **options) -> set[tuple[str, str, int]]:
    policies = {k: options.pop(k) for k in ("dual", "unknown", "aliases") if k in options}
    effects, _ = edge_effects(raw, **options)
    edges, _ = harmonise_edges(effects, GENES, SYNONYMS, **policies)
    return set(zip(edges["regulator"], edges["target"], edges["sign"], strict=True))


def test_collectri_weights_give_signs():
    raw = read("source,target,weight,PMID\nSTAT1,IRF1,1,123\nstat1,MYC,-1,9\np53,MYC,1,4\n")
    assert signed(raw, format="collectri") == {
        ("ENSG01", "ENSG02", 1),
        ("ENSG01", "ENSG03", -1),
        ("ENSG04", "ENSG03", 1),
    }


def test_collectri_refuses_a_non_numeric_weight_naming_row_and_gene():
    raw = read("source,target,weight\nSTAT1,IRF1,1\nMYC,TP53,up\n")
    with pytest.raises(InputError, match=r"non-numeric sign 'up'.*column 'weight', row 1.*MYC"):
        edge_effects(raw, format="collectri")


OMNIPATH_COLUMNS = (
    "source target source_genesymbol target_genesymbol is_directed is_stimulation "
    "is_inhibition consensus_stimulation consensus_inhibition"
)
OMNIPATH = (
    "\t".join(OMNIPATH_COLUMNS.split())
    + """
P42224\tP10914\tSTAT1\tIRF1\t1\t1\t0\t1\t0
P01106\tP04637\tMYC\tTP53\t1\t1\t1\t1\t1
P04637\tP01106\tTP53\tMYC\t1\t0\t1\t0\t1
P42224\tP01106\tSTAT1\tMYC\t0\t1\t0\t1\t0
P10914\tP04637\tIRF1\tTP53\t1\t1\t0\t0\t0
"""
)


def test_omnipath_uses_gene_symbols_and_the_dual_policy_for_stimulation_and_inhibition():
    raw = read(OMNIPATH)
    both = signed(raw, format="omnipath", dual="both")
    assert both == {
        ("ENSG01", "ENSG02", 1),
        ("ENSG03", "ENSG04", 1),
        ("ENSG03", "ENSG04", -1),
        ("ENSG04", "ENSG03", -1),
    }
    assert ("ENSG03", "ENSG04", 1) not in signed(raw, format="omnipath", dual="inhibition")
    assert not {("ENSG03", "ENSG04", s) for s in (1, -1)} & signed(
        raw, format="omnipath", dual="drop"
    )


def test_omnipath_undirected_rows_are_dropped_and_counted_or_kept():
    raw = read(OMNIPATH)
    _, report = edge_effects(raw, format="omnipath")
    assert report.set_index("reason").loc["undirected interaction", "rows"] == 1
    kept = signed(raw, format="omnipath", omnipath_undirected="keep")
    assert ("ENSG01", "ENSG03", 1) in kept


def test_omnipath_sign_without_consensus_is_unknown_or_curated():
    raw = read(OMNIPATH)
    # IRF1 -> TP53: stimulation in is_*, no consensus: '?' by default, '+' from is_*
    assert ("ENSG02", "ENSG04", 1) not in signed(raw, format="omnipath")
    assert ("ENSG02", "ENSG04", 1) in signed(raw, format="omnipath", unknown="activation")
    assert ("ENSG02", "ENSG04", 1) in signed(raw, format="omnipath", omnipath_consensus=False)


def test_omnipath_refuses_a_bad_flag():
    raw = read(
        OMNIPATH.replace("P42224\tP10914\tSTAT1\tIRF1\t1", "P42224\tP10914\tSTAT1\tIRF1\tyes")
    )
    with pytest.raises(InputError, match=r"0/1.*column 'is_directed', row 0"):
        edge_effects(raw, format="omnipath")


def test_dorothea_keeps_the_requested_confidence_levels():
    raw = read("tf,confidence,target,mor\nSTAT1,A,IRF1,1\nMYC,D,TP53,-1\nTP53,B,MYC,-1\n")
    assert signed(raw, format="dorothea", dorothea_levels=["A", "B"]) == {
        ("ENSG01", "ENSG02", 1),
        ("ENSG04", "ENSG03", -1),
    }
    assert len(signed(raw, format="dorothea", dorothea_levels=list("ABCDE"))) == 3
    _, report = edge_effects(raw, format="dorothea", dorothea_levels=["A"])
    assert report["rows"].sum() == 2
    with pytest.raises(InputError, match=r"unknown confidence level 'Z'.*row 0.*STAT1"):
        edge_effects(read("tf,confidence,target,mor\nSTAT1,Z,IRF1,1\n"), format="dorothea")
    with pytest.raises(InputError, match=r"confidence level\(s\) \['F'\]"):
        edge_effects(raw, format="dorothea", dorothea_levels=["F"])


def test_regulondb_effects_pass_through_unchanged():
    raw = read("regulator,target,effect\nSTAT1,IRF1,+-\nMYC,TP53,?\n")
    assert signed(raw, format="regulondb") == {("ENSG01", "ENSG02", 1), ("ENSG01", "ENSG02", -1)}


def test_go_graph_is_positive_only_when_asked_for():
    raw = read("source,target,importance\nSTAT1,IRF1,0.9\nMYC,TP53,0.1\nMYC,MYC,1.0\n")
    with pytest.raises(InputError, match="unsigned similarity.*go_as: positive"):
        edge_effects(raw, format="go")
    assert signed(raw, format="go", go_as="positive", go_min_importance=0.5) == {
        ("ENSG01", "ENSG02", 1)
    }
    _, report = edge_effects(raw, format="go", go_as="positive", go_min_importance=0.5)
    assert set(report["reason"]) == {"importance below go_min_importance", "self-loop"}


def test_unknown_format_and_missing_columns_are_named():
    with pytest.raises(InputError, match="unknown edge format 'sif'"):
        edge_effects(read("a,b\n1,2\n"), format="sif")
    with pytest.raises(InputError, match=r"missing column.*column 'mor'"):
        edge_effects(read("tf,confidence,target\nSTAT1,A,IRF1\n"), format="dorothea")


def test_identifiers_resolve_by_case_alias_column_synonym_and_ensembl_version():
    resolver = name_resolver(GENES, SYNONYMS, aliases=["entrez"])
    assert resolver["stat1"] == ("ENSG01",)
    assert resolver["7157"] == ("ENSG04",)
    assert resolver["p53"] == ("ENSG04",)
    raw = read("source,target,weight\nENSG01.7,7157,1\n")
    assert signed(raw, format="collectri", aliases=["entrez"]) == {("ENSG01", "ENSG04", 1)}
    with pytest.raises(InputError, match=r"missing column.*column 'hgnc'"):
        name_resolver(GENES, aliases=["hgnc"])
