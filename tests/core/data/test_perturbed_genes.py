"""Perturbed genes as users name them: unknown names (with close names), genes neither
measured nor in the KB, unmeasured KB genes (latent inputs or dropped), and expression
tables with missing values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aligned_kedro.core.data.design import (
    KB_GENE_DROPPED,
    NOT_MEASURED,
    UNKNOWN_NAME,
    perturbation_coverage,
    select_conditions,
)
from aligned_kedro.core.data.harmonise import resolve_perturbations, unknown_perturbations
from aligned_kedro.core.data.labels import finite_genes
from aligned_kedro.core.data.validation import dropped_perturbations
from aligned_kedro.core.errors import InputError

GENES = pd.DataFrame(
    {
        "gene_id": ["g1", "g2", "g3", "g4", "g5"],
        "gene_name": ["ATF2", "FOXA2", "MYC", "SOX2", "TP53"],
    }
)
MEASURED = ["g1", "g2"]
KB_GENES = {"g1", "g2", "g3"}  # g3 (MYC) is in the KB but not measured; g4, g5 are neither


def design() -> pd.DataFrame:
    """Six knockouts against one control group: measured, latent, a gene neither measured
    nor in the KB, a typo, and a double with a latent gene."""
    perturbed = {
        "ko_atf2": "ATF2",
        "ko_myc": "MYC",
        "ko_sox2": "SOX2",
        "ko_typo": "FOXA22",
        "ko_mix": "ATF2+MYC",
        "ko_none": "ZZZZZZ",
    }
    rows = [
        (f"{c}_{i}", c, "perturbed", p, "KO", "wt") for c, p in perturbed.items() for i in (1, 2)
    ]
    rows += [(f"wt_{i}", "wt", "control", "", "", "wt") for i in (1, 2)]
    columns = ["sample_id", "condition", "role", "perturbation", "perturbation_type"]
    return pd.DataFrame(rows, columns=[*columns, "control_group"])


def coverage(latent: bool) -> pd.DataFrame:
    unknown = unknown_perturbations(design(), GENES, source="screen.h5ad")
    resolved = resolve_perturbations(design(), GENES, unknown="keep")
    return perturbation_coverage(
        resolved, measured=MEASURED, kb_genes=KB_GENES, latent=latent, unknown=unknown
    )


def test_unknown_names_are_listed_once_per_condition_with_close_names():
    unknown = unknown_perturbations(design(), GENES)
    assert unknown["condition"].tolist() == ["ko_typo", "ko_none"]
    assert unknown["name"].tolist() == ["FOXA22", "ZZZZZZ"]
    assert unknown["closest"].tolist() == ["FOXA2;SOX2", ""]


def test_an_unknown_name_raises_with_close_names_or_stays_as_written():
    with pytest.raises(InputError) as error:
        resolve_perturbations(design(), GENES, source="screen.h5ad")
    message = str(error.value)
    assert "unknown gene; closest known names: FOXA2, SOX2" in message
    assert "'FOXA22'" in message and "'ko_typo'" in message and "screen.h5ad" in message
    kept = resolve_perturbations(design(), GENES, unknown="keep")
    assert kept.drop_duplicates("condition")["perturbation"].tolist()[:5] == [
        "g1",
        "g3",
        "g4",
        "FOXA22",
        "g1+g3",
    ]


def test_coverage_tells_unknown_names_from_known_unmeasured_genes():
    latent = coverage(latent=True).set_index("condition")
    assert latent.loc["ko_typo"].tolist() == [UNKNOWN_NAME, "FOXA22 (closest: FOXA2, SOX2)"]
    assert latent.loc["ko_none"].tolist() == [UNKNOWN_NAME, "ZZZZZZ"]
    assert latent.loc["ko_sox2"].tolist() == [NOT_MEASURED, "g4"]
    assert latent.loc["ko_myc"].tolist() == ["kept", "latent input: g3"]
    assert latent.loc["ko_mix"].tolist() == ["kept", "latent input: g3"]
    assert "ko_atf2" not in latent.index
    dropped = coverage(latent=False).set_index("condition")
    assert dropped.loc["ko_myc"].tolist() == [KB_GENE_DROPPED, "g3"]
    assert dropped.loc["ko_mix", "status"] == KB_GENE_DROPPED


def test_select_conditions_drops_them_by_reason_or_raises_naming_the_condition():
    resolved = resolve_perturbations(design(), GENES, unknown="keep")
    selected, report = select_conditions(
        resolved, coverage=coverage(latent=True), unknown_perturbation="drop"
    )
    status = report.set_index("condition")["status"].to_dict()
    assert status == {
        "ko_atf2": "kept",
        "ko_mix": "kept",
        "ko_myc": "kept",
        "ko_none": UNKNOWN_NAME,
        "ko_sox2": NOT_MEASURED,
        "ko_typo": UNKNOWN_NAME,
    }
    assert set(selected["condition"]) == {"ko_atf2", "ko_mix", "ko_myc", "wt"}
    with pytest.raises(InputError) as error:
        select_conditions(resolved, coverage=coverage(latent=False), source="screen.h5ad")
    message = str(error.value)
    assert f"condition cannot be used: {KB_GENE_DROPPED}: g3 " in message
    assert "'ko_mix'" in message and "'g1+g3'" in message
    assert "unknown_perturbation: drop" in message and "screen.h5ad" in message


def expression() -> pd.DataFrame:
    values = np.arange(12, dtype=float).reshape(4, 3)
    values[1, 2] = np.nan
    values[3, 0] = np.inf
    return pd.DataFrame(values, index=["g1", "g2", "g3", "g4"], columns=["s1", "s2", "s3"])


def test_missing_values_raise_by_default_naming_gene_sample_and_option():
    with pytest.raises(InputError) as error:
        finite_genes(expression(), source="log_expression.csv")
    message = str(error.value)
    assert "log_expression.csv" in message and "'g2'" in message and "'s3'" in message
    assert "2 genes have one" in message and "non_finite: drop_gene" in message


def test_drop_gene_drops_and_lists_every_gene_with_a_missing_value():
    kept, dropped = finite_genes(expression(), non_finite="drop_gene")
    assert kept.index.tolist() == ["g1", "g3"]
    assert dropped.to_dict("list") == {
        "gene_id": ["g2", "g4"],
        "n_non_finite": [1, 1],
        "samples": ["s3", "s1"],
    }
    same, none = finite_genes(expression().loc[["g1", "g3"]], non_finite="drop_gene")
    assert same.equals(kept) and none.empty


def test_text_in_the_table_and_an_unknown_option_are_refused():
    table = expression().astype(object)
    table.iloc[0, 1] = "high"
    with pytest.raises(InputError, match="non-numeric expression value 'high'.*'s2'"):
        finite_genes(table, non_finite="drop_gene")
    with pytest.raises(InputError, match="non_finite must be one of"):
        finite_genes(expression(), non_finite="zero")


def test_the_validation_report_lists_each_reason_and_the_latent_inputs():
    resolved = resolve_perturbations(design(), GENES, unknown="keep")
    _, report = select_conditions(
        resolved, coverage=coverage(latent=True), unknown_perturbation="drop"
    )
    rows = {f.check: f for f in dropped_perturbations(report)}
    unknown = rows["perturbed.unknown_name"]
    assert (unknown.status, unknown.value) == ("warn", 2)
    assert "ko_typo: FOXA22 (closest: FOXA2, SOX2)" in unknown.detail
    assert (
        rows["perturbed.unmeasured_gene"].value,
        rows["perturbed.unmeasured_kb_gene"].value,
    ) == (
        1,
        0,
    )
    assert rows["perturbed.unmeasured_kb_gene"].status == "ok"
    assert rows["perturbed.latent_input"].value == 2
