"""Every validation failure raises an InputError that says what and where."""

import pandas as pd
import pytest

from aligned_kedro.core.data import validation
from aligned_kedro.core.errors import InputError

UNIVERSE = pd.DataFrame(
    {
        "gene_id": ["g1", "g2", "g3", "g4"],
        "gene_name": ["STAT1", "IRF1", "MYC", "TP53"],
        "is_regulator": [True, False, False, False],
        "in_kb": [True, True, False, False],
    }
)
X = pd.DataFrame([[-1, 0, 0, 0], [0, 0, -1, 0]], index=["a", "b"], columns=UNIVERSE["gene_id"])
EDGE_REPORT = pd.DataFrame(
    {"action": ["input", "dropped"], "reason": ["rows", "target not a gene: ENSG9"], "rows": [5, 4]}
)


def fails(findings, pattern):
    with pytest.raises(InputError, match=pattern):
        validation.raise_on_errors(findings)


def test_no_measured_kb_gene_is_an_identifier_mismatch():
    universe = UNIVERSE.assign(in_kb=False, is_regulator=False)
    fails(
        validation.kb_coverage(universe, X, EDGE_REPORT),
        r"genes.in_kb: 0 measured genes have a KB edge.*same gene identifiers.*ENSG9"
        r".*file 'raw_edges'",
    )


def test_perturbed_genes_outside_the_kb_are_named_and_can_be_refused():
    findings = validation.kb_coverage(UNIVERSE, X, EDGE_REPORT)
    (outside,) = [f for f in findings if f.check == "perturbed.outside_kb"]
    assert outside.status == "warn" and outside.value == 1
    assert "the GNN still sees them" in outside.detail and "MYC" in outside.detail
    validation.raise_on_errors(findings)
    fails(
        validation.kb_coverage(UNIVERSE, X, EDGE_REPORT, perturbed_outside_kb="error"),
        r"1 of 2 perturbed genes regulate nothing in the KB.*MYC.*gene 'g3'",
    )


def test_genes_matched_only_through_symbol_aliases_are_listed_with_their_rows():
    report = pd.concat(
        [
            EDGE_REPORT,
            pd.DataFrame(
                {
                    "action": ["matched", "matched", "matched"],
                    "reason": [
                        "symbol alias: p53 (alias symbol) -> TP53",
                        "symbol alias: MYCC (alias symbol) -> MYC",
                        "symbol alias: OLD1 (previous symbol) -> GONE",
                    ],
                    "rows": [3, 2, 7],
                }
            ),
        ],
        ignore_index=True,
    )
    universe = UNIVERSE.assign(measured=[True, True, False, True])
    (found,) = [f for f in validation.kb_coverage(universe, X, report) if "alias" in f.check]
    assert (found.check, found.status, found.value) == ("genes.alias_matched", "ok", 1)
    assert found.detail.endswith("recovering 3 KB rows: TP53 (p53)")
    (none,) = [f for f in validation.kb_coverage(UNIVERSE, X, EDGE_REPORT) if "alias" in f.check]
    assert none.value == 0


CONDITIONS = pd.DataFrame(
    {
        "condition": ["a", "b", "c"],
        "perturbation": ["g1", "g3", "g2"],
        "control_group": ["w", "w", ""],
        "n_perturbed": [3, 1, 2],
        "n_control": [2, 2, 0],
        "status": ["kept", "kept", "no control samples"],
    }
)


def test_too_few_replicates_name_the_condition():
    fails(
        validation.replicates(CONDITIONS, min_replicates=2),
        r"fewer than min_replicates = 2 perturbed samples, e.g. 'b' with 1.*row 'b', gene 'g3'",
    )
    fails(
        validation.replicates(CONDITIONS, min_replicates=3),
        r"replicates.perturbed.*\(1 more validation errors logged\)",
    )
    warned = validation.replicates(CONDITIONS, min_replicates=2, too_few="warn")
    validation.raise_on_errors(warned)
    (missing,) = [f for f in warned if f.check == "controls.missing"]
    assert missing.status == "warn" and "'c'" in missing.detail


def test_duplicated_conditions_are_refused():
    design = pd.DataFrame(
        {
            "condition": ["a", "a", "b", "c"],
            "role": ["perturbed"] * 4,
            "perturbation": ["g1+g2", "g1+g2", "g2+g1", "g1"],
            "perturbation_type": ["KO"] * 4,
            "control_group": ["w"] * 4,
        }
    )
    fails(
        validation.duplicated_conditions(design),
        r"conditions \['a', 'b'\] perturb the same genes.*row 'b', gene 'g1\+g2'",
    )
    other_controls = design.assign(control_group=["w", "w", "v", "w"])
    assert validation.duplicated_conditions(other_controls)[0].status == "ok"


def test_an_empty_split_is_refused():
    fails(
        validation.split_sizes({"strategy": "combo_seen0", "train": ["a"], "test": []}),
        r"the test split of strategy 'combo_seen0' is empty",
    )
    findings = validation.split_sizes(
        {"strategy": "combo", "train": ["a"], "test": ["b"], "combo_seen0": [], "held_out": []},
        ["combo_seen0"],
    )
    validation.raise_on_errors(findings)
    status = {f.check: f.status for f in findings}
    assert status["split.combo_seen0"] == "warn" and status["split.held_out"] == "ok"
    per_cell = {"train": ["a@1", "a@2", "c@1"], "test": ["b@1", "b@2"]}
    per_cell["conditions"] = {"train": ["a", "c"], "test": ["b"]}
    sizes = {f.check: f.value for f in validation.split_sizes(per_cell)}
    assert sizes == {"split.train": 2, "split.test": 1}


def test_the_inconsistency_summary_is_taken_from_the_knowledge_base_report():
    report = pd.DataFrame({"measure": ["share_missing", "inc"], "value": [0.25, 12]})
    rows = validation.report_table(validation.inconsistency_summary(report))
    assert rows.set_index("check")["value"].to_dict() == {
        "inconsistency.share_missing": 0.25,
        "inconsistency.inc": 12.0,
    }


@pytest.mark.parametrize(("median", "status"), [(0.9, "warn"), (0.2, "ok")])
def test_a_saturating_deduction_is_a_warning(median: float, status: str):
    report = pd.DataFrame(
        {
            "measure": ["kb_changed_share_median", "kb_saturated"],
            "value": [median, float(median > 1 / 3)],
        }
    )
    rows = validation.report_table(validation.inconsistency_summary(report)).set_index("check")
    assert rows.loc["inconsistency.kb_saturated", "status"] == status
    assert rows.loc["inconsistency.kb_changed_share_median", "status"] == "ok"
    if status == "warn":
        detail = rows.loc["inconsistency.kb_saturated", "detail"]
        assert "90% of the measured genes" in detail and "abstention.balance" in detail


def test_a_one_condition_dataset_is_told_which_strategies_it_supports():
    from aligned_kedro.core.data.splits import strategy_support

    support = strategy_support({"ko": ["g1"]}, test_fraction=0.25, seed=0)
    assert [name for name, reason in support.items() if reason is None] == ["none"]
    assert "cannot split 1 condition(s)" in support["unseen_perturbation"]
    fails(
        validation.split_support(support, "unseen_perturbation"),
        r"split.strategy: split strategy 'unseen_perturbation' cannot split this dataset: "
        r"cannot split 1 condition.*it supports \['none'\]; a single experiment.*strategy "
        r"none.*column 'data_processing.split.strategy'",
    )
    validation.raise_on_errors(validation.split_support(support, "none"))
    findings = validation.split_sizes({"strategy": "none", "train": ["ko"], "test": []})
    (test,) = [f for f in findings if f.check == "split.test"]
    assert test.status == "warn" and "test metrics are not computed" in test.detail


def test_labels_that_hold_nothing_to_learn_warn_or_are_refused():
    zeros = pd.DataFrame(0, index=["a", "b"], columns=["g1", "g2"])
    found = {f.check: f for f in validation.label_classes(zeros, {"test": []})}
    changed = found["labels.changed"]
    assert changed.status == "warn" and changed.value == 0
    assert (found["labels.unchanged"].value, found["labels.up"].value) == (4, 0)
    assert found["labels.called_per_condition"].value == 0
    assert "the DE test called (nearly) no gene" in changed.detail
    fails(
        validation.label_classes(zeros, {"test": []}, uninformative="error"),
        r"labels.changed: 0.00% of 4 labels are -1 or \+1.*every method ties",
    )
    one_class = pd.DataFrame([[1, 0], [0, 0]], index=["a", "b"], columns=["g1", "g2"])
    findings = validation.label_classes(one_class, {"test": ["b"]}, uninformative="error")
    fails(findings, r"split.test_classes: the test labels hold a single class \(0\)")
    mixed = {f.check: f for f in validation.label_classes(one_class, {"test": ["a"]})}
    assert {f.status for f in mixed.values()} == {"ok"}
    assert (mixed["labels.up"].value, mixed["labels.down"].value) == (1, 0)
    assert "min 0, max 1" in mixed["labels.called_per_condition"].detail


def test_a_knockout_that_escapes_is_flagged():
    design = pd.DataFrame(
        {
            "sample_id": ["k1", "k2", "e1", "e2", "o1", "o2", "w1", "w2"],
            "condition": ["ko", "ko", "esc", "esc", "oe", "oe", "wt", "wt"],
            "role": ["perturbed"] * 6 + ["control"] * 2,
            "perturbation": ["g1", "g1", "g2", "g2", "g3+g4", "g3+g4", "", ""],
            "perturbation_type": ["KO", "KO", "KD", "KD", "OE", "OE", "", ""],
            "control_group": ["w"] * 8,
        }
    )
    de = pd.DataFrame(
        {
            "condition": ["ko", "esc", "oe", "oe"],
            "gene": ["g1", "g2", "g3", "g1"],
            "log2fc": [-3.0, 0.4, 2.0, 0.0],
        }
    )
    table = validation.knockdown_efficiency(de, design)
    assert table[["condition", "gene", "expected", "status"]].values.tolist() == [
        ["ko", "g1", "down", "ok"],
        ["esc", "g2", "down", "escaped"],
        ["oe", "g3", "up", "ok"],
        ["oe", "g4", "up", "not measured"],
    ]
    escaped, unmeasured = validation.efficiency_findings(table)
    assert escaped.status == "warn" and escaped.value == 1 and unmeasured.value == 1
    assert "esc (g2: log2FC +0.40, expected down)" in escaped.detail
    assert (escaped.row, escaped.gene) == ("esc", "g2")


def test_a_report_read_back_from_its_csv_gives_its_findings(tmp_path):
    findings = [
        validation.Finding("genes.in_kb", "error", 0, "no KB gene", source="raw_edges", row=3),
        validation.Finding("split.train", "ok", 2, "train conditions"),
    ]
    path = tmp_path / "validation.csv"
    validation.report_table(findings).to_csv(path, index=False)
    back = validation.report_findings(pd.read_csv(path))
    assert back[0] == validation.Finding(
        "genes.in_kb", "error", 0.0, "no KB gene", source="raw_edges", row="3"
    )
    assert back[1].source is None
    fails(back, r"genes.in_kb: no KB gene \(file 'raw_edges', row '3'\)")


def test_an_error_names_its_dataset_and_the_users_file_after_the_fact():
    error = InputError("bad label", source="raw_design", column="perturbation", row="c1")
    error.locate(dataset="norman", source="norman.raw_cells", column="obs['condition']")
    assert str(error) == (
        "dataset 'norman': bad label (file 'norman.raw_cells', column \"obs['condition']\", "
        "row 'c1')"
    )


def test_latent_genes_are_counted_apart_from_the_measured_ones():
    universe = UNIVERSE.assign(measured=[True, False, True, True], in_kb=True)
    counts = {f.check: f.value for f in validation.kb_coverage(universe, X, EDGE_REPORT)}
    assert counts["genes.measured"] == 3 and counts["genes.latent"] == 1
    assert counts["genes.in_kb"] == 3
