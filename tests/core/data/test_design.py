import pandas as pd
import pytest

from aligned_kedro.core.data.design import select_conditions, unlabelled_inputs
from aligned_kedro.core.errors import InputError


def design():
    rows = [
        ("k1", "ko_a", "perturbed", "a", "KO", "g1", "True"),
        ("k2", "ko_a", "perturbed", "a", "KO", "g1", "True"),
        ("c1", "wt1", "control", "", "", "g1", ""),
        ("c2", "wt1", "control", "", "", "g1", ""),
        ("k3", "ko_b", "perturbed", "b", "KO", "", "False"),
        ("k4", "ko_c", "perturbed", "c", "KO", "g2", "False"),
        ("c3", "wt2", "control", "", "", "g2", ""),
        ("k5", "ko_d", "perturbed", "d", "KO", "g3", "False"),
        ("k6", "ko_d", "perturbed", "d", "KO", "g3", "False"),
        ("c4", "wt3", "control", "", "", "g3", ""),
    ]
    columns = [
        "sample_id",
        "condition",
        "role",
        "perturbation",
        "perturbation_type",
        "control_group",
        "background_matched",
    ]
    return pd.DataFrame(rows, columns=columns)


def test_each_untestable_condition_is_dropped_with_its_reason():
    selected, report = select_conditions(design(), missing_control="drop", untestable="drop")
    status = dict(zip(report["condition"], report["status"], strict=True))
    assert status == {
        "ko_a": "kept",
        "ko_b": "no control samples",
        "ko_c": "no residual degree of freedom",
        "ko_d": "kept",
    }
    assert set(selected["sample_id"]) == {"k1", "k2", "c1", "c2", "k5", "k6", "c4"}


def test_background_match_can_be_required():
    _, report = select_conditions(
        design(), missing_control="drop", untestable="drop", require_background_match=True
    )
    assert list(report.loc[report["status"].eq("kept"), "condition"]) == ["ko_a"]


def test_missing_control_raises_by_default_naming_condition_and_gene():
    with pytest.raises(InputError) as error:
        select_conditions(design(), source="design.tsv")
    message = str(error.value)
    assert "design.tsv" in message and "ko_b" in message and "'b'" in message


def test_roles_are_perturbed_or_control_in_any_case():
    mixed = design().assign(
        role=lambda d: d["role"].map({"perturbed": " Perturbed", "control": "CONTROL"})
    )
    expected, _ = select_conditions(design(), missing_control="drop", untestable="drop")
    selected, _ = select_conditions(mixed, missing_control="drop", untestable="drop")
    pd.testing.assert_frame_equal(selected, expected)


def test_a_misspelled_role_is_refused_naming_the_row_and_the_values_found():
    table = design()
    table.loc[table["sample_id"].isin(["c1", "c2"]), "role"] = "contrl"
    table.loc[table["sample_id"].eq("c4"), "role"] = "wt"
    with pytest.raises(InputError) as error:
        select_conditions(table, missing_control="drop", untestable="drop", source="design.tsv")
    message = str(error.value)
    assert "found 'contrl' (2 rows), 'wt' (1 rows)" in message
    assert "column 'role'" in message and "row 'c1'" in message and "design.tsv" in message


def test_unlabelled_inputs_cover_unseen_regulators_only():
    labelled = pd.DataFrame([[-1, 0, 0, 0]], columns=["a", "b", "c", "d"])
    x_u = unlabelled_inputs(["a", "b", "c", "d"], ["a", "c", "d"], labelled)
    assert list(x_u.index) == ["unlabelled__c", "unlabelled__d"]
    assert x_u.loc["unlabelled__c"].tolist() == [0, 0, -1, 0]
    over = unlabelled_inputs(["a", "b"], ["b"], labelled.iloc[:, :2], perturbation_type="OE")
    assert over.to_numpy().tolist() == [[0, 1]]
    with pytest.raises(InputError, match="perturbation type"):
        unlabelled_inputs(["a"], ["a"], labelled, perturbation_type="CRISPRx")
