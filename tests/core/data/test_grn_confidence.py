"""A KB edge's confidence from its source (DoRothEA levels, OmniPath curation effort,
RegulonDB evidence, any table's own column) reaches the compiled KB."""

import io

import numpy as np
import pandas as pd
import pytest

from aligned_kedro.core.data.harmonise import edge_effects, harmonise_edges
from aligned_kedro.core.errors import InputError
from aligned_kedro.core.knowledge.kb import compile_kb

GENES = pd.DataFrame(
    {"gene_id": ["g1", "g2", "g3", "g4"], "gene_name": ["STAT1", "IRF1", "MYC", "TP53"]}
)


def read(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), sep=None, engine="python", keep_default_na=False)


def confidence(raw: pd.DataFrame, **options) -> dict[tuple[str, str, int], float]:
    effects, _ = edge_effects(raw, **options)
    edges, _ = harmonise_edges(effects, GENES, dual="both")
    kb = compile_kb(edges, GENES["gene_id"].tolist(), conflict="both")
    table = kb.confidence()
    if table is None:
        return {}
    keys = zip(table["regulator"], table["target"], table["sign"], strict=True)
    return dict(zip(keys, table["confidence"], strict=True))


def test_dorothea_levels_become_confidences():
    raw = read("tf,confidence,target,mor\nSTAT1,A,IRF1,1\nMYC,c,TP53,-1\nTP53,E,MYC,-1\n")
    found = confidence(raw, format="dorothea", dorothea_levels=["A", "C", "E"])
    assert found == {("g1", "g2", 1): 1.0, ("g3", "g4", -1): 0.5, ("g4", "g3", -1): 0.0}


def test_omnipath_curation_effort_saturates_at_one():
    raw = read(
        "source_genesymbol\ttarget_genesymbol\tsource\ttarget\tis_directed\t"
        "consensus_stimulation\tconsensus_inhibition\tcuration_effort\n"
        "STAT1\tIRF1\tP1\tP2\t1\t1\t0\t3\n"
        "MYC\tTP53\tP3\tP4\t1\t1\t1\t0\n"
    )
    found = confidence(raw, format="omnipath")
    assert found[("g1", "g2", 1)] == pytest.approx(0.5)
    assert found[("g3", "g4", 1)] == found[("g3", "g4", -1)] == 0.0
    bad = raw.assign(curation_effort=["3", "-1"])
    with pytest.raises(InputError, match="non-negative count.*curation_effort.*row 1"):
        edge_effects(bad, format="omnipath")


def test_regulondb_evidence_levels_and_unknown_levels():
    raw = read(
        "regulator,target,effect,evidence\nSTAT1,IRF1,+,Strong\nMYC,TP53,-,weak\nIRF1,MYC,+,\n"
    )
    found = confidence(raw, format="regulondb")
    assert found == {("g1", "g2", 1): pytest.approx(2 / 3), ("g3", "g4", -1): pytest.approx(1 / 3)}
    with pytest.raises(InputError, match="unknown evidence level 'maybe'.*row 0.*STAT1"):
        edge_effects(raw.assign(evidence=["maybe", "", ""]), format="regulondb")


def test_a_table_own_confidence_column_wins_and_duplicates_keep_the_highest():
    raw = read(
        "source,target,weight,confidence\nSTAT1,IRF1,1,0.2\nSTAT1,IRF1,1,0.9\nMYC,TP53,-1,\n"
    )
    assert confidence(raw, format="collectri") == {("g1", "g2", 1): 0.9}


def test_a_kb_without_confidence_has_one_price_for_every_edge():
    raw = read("regulator,target,effect\nSTAT1,IRF1,+\nMYC,TP53,-\n")
    assert confidence(raw, format="regulondb") == {}
    kb = compile_kb(
        pd.DataFrame({"regulator": ["g1"], "target": ["g2"], "sign": [1]}),
        GENES["gene_id"].tolist(),
    )
    assert kb.confidence() is None
    empty = kb.edge_table.assign(confidence=np.nan)
    assert compile_kb(empty, GENES["gene_id"].tolist()).confidence().empty
