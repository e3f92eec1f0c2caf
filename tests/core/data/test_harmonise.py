import pandas as pd
import pytest

from aligned_kedro.core.data.harmonise import gene_universe, harmonise_edges, resolve_perturbations
from aligned_kedro.core.errors import InputError

GENES = pd.DataFrame(
    {
        "gene_id": ["b1", "b2", "b3", "b4", "b5"],
        "gene_name": ["crp", "flhD", "flhC", "hns", "lacZ"],
    }
)
SYNONYMS = pd.DataFrame({"name": ["h-NS", "hU"], "genes": ["hns", "flhD;flhC"]})


def edges(*rows):
    return pd.DataFrame(rows, columns=["regulator", "target", "effect"])


def test_names_synonyms_and_composites_resolve_to_gene_ids():
    raw = edges(("CRP", "b5", "+"), ("h-NS", "b5", "-"), ("flhD;flhC", "b1", "+"))
    out, report = harmonise_edges(raw, GENES, SYNONYMS)
    got = set(zip(out["regulator"], out["target"], out["sign"], strict=True))
    assert got == {("b1", "b5", 1), ("b4", "b5", -1), ("b2", "b1", 1), ("b3", "b1", 1)}
    assert report.loc[report["action"].eq("expanded"), "rows"].sum() == 1


def test_dual_and_unknown_effects_follow_their_parameters():
    raw = edges(("crp", "b5", "+-"), ("hns", "b5", "?"))
    both, _ = harmonise_edges(raw, GENES, dual="both")
    assert sorted(both["sign"]) == [-1, 1]
    dropped, report = harmonise_edges(raw, GENES, dual="drop")
    assert dropped.empty
    assert report.loc[report["action"].eq("dropped"), "rows"].sum() == 2
    with pytest.raises(InputError, match="unknown sign"):
        harmonise_edges(raw, GENES, unknown="error")


def test_non_gene_regulators_are_counted_or_refused():
    raw = edges(("FMN", "b5", "-"), ("crp", "b5", "+"))
    out, report = harmonise_edges(raw, GENES)
    assert len(out) == 1
    assert "regulator not a gene: FMN" in set(report["reason"])
    with pytest.raises(InputError) as error:
        harmonise_edges(raw, GENES, unresolved="error", source="trn.tsv")
    assert (
        "trn.tsv" in str(error.value) and "FMN" in str(error.value) and "row 0" in str(error.value)
    )


def test_bad_tables_name_file_column_and_row():
    with pytest.raises(InputError, match="'effect'"):
        harmonise_edges(pd.DataFrame({"regulator": ["crp"], "target": ["b5"]}), GENES)
    with pytest.raises(InputError, match="unknown effect.*row 1"):
        harmonise_edges(edges(("crp", "b5", "+"), ("crp", "b4", "up")), GENES)
    with pytest.raises(InputError, match="empty value.*'target'"):
        harmonise_edges(edges(("crp", None, "+")), GENES)


def test_universe_is_the_measured_genes_and_reports_kb_drops():
    raw = edges(("crp", "b5", "+"), ("hns", "b3", "-"))
    out, _ = harmonise_edges(raw, GENES)
    universe, kept, report, _ = gene_universe(["b1", "b2", "b3", "b5"], GENES, out)
    assert list(universe["gene_id"]) == ["b1", "b2", "b3", "b5"]
    assert list(universe.loc[universe["is_regulator"], "gene_id"]) == ["b1"]
    assert len(kept) == 1
    dropped = report.set_index("reason").loc["KB genes not measured (dropped with their edges)"]
    assert (dropped["genes"], dropped["edges"]) == (1, 1)
    with pytest.raises(InputError, match="not measured.*b4"):
        gene_universe(["b1", "b2", "b3", "b5"], GENES, out, kb_genes="error")
    with pytest.raises(InputError, match="duplicate gene"):
        gene_universe(["b1", "b1"], GENES, out)


def test_perturbations_resolve_and_unknown_genes_are_named():
    design = pd.DataFrame({"condition": ["a", "b", "c"], "perturbation": ["crp", "flhD+hns", ""]})
    resolved = resolve_perturbations(design, GENES)
    assert list(resolved["perturbation"]) == ["b1", "b2+b4", ""]
    bad = pd.DataFrame({"condition": ["x"], "perturbation": ["crp+nope"]})
    with pytest.raises(InputError) as error:
        resolve_perturbations(bad, GENES, source="design.tsv")
    message = str(error.value)
    assert "design.tsv" in message and "'nope'" in message and "'x'" in message
