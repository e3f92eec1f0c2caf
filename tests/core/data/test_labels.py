"""Tests for differential expression against matched controls and ternary labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from aligned_kedro.core.data.design import validate_design
from aligned_kedro.core.data.labels import (
    differential_expression,
    perturbation_matrix,
    ternary_labels,
)
from aligned_kedro.core.data.statistics import fit_variance_prior
from aligned_kedro.core.errors import InputError

EXPR = "expr.csv"
DESIGN = "design.csv"


def make_design(conditions: dict[str, tuple[str, str, int, str]], controls: dict[str, int]):
    """conditions: name -> (perturbation, type, n samples, control group); controls: group -> n."""
    rows = []
    for name, (perturbation, kind, n, group) in conditions.items():
        rows += [
            {
                "sample_id": f"{name}_{i}",
                "condition": name,
                "role": "perturbed",
                "perturbation": perturbation,
                "perturbation_type": kind,
                "control_group": group,
            }
            for i in range(n)
        ]
    for group, n in controls.items():
        rows += [
            {
                "sample_id": f"ctl_{group}_{i}",
                "condition": f"ctl_{group}",
                "role": "control",
                "perturbation": "",
                "perturbation_type": "",
                "control_group": group,
            }
            for i in range(n)
        ]
    return pd.DataFrame(rows)


def synthetic(seed: int = 0, n_genes: int = 200, sd: float = 0.1, shift: float = 3.0):
    """3 perturbed vs 3 control samples; genes 0-9 up by `shift`, 10-19 down."""
    rng = np.random.default_rng(seed)
    design = make_design({"c1": ("g0", "KO", 3, "A")}, {"A": 3})
    values = rng.normal(5.0, sd, (n_genes, 6))
    values[:10, :3] += shift
    values[10:20, :3] -= shift
    genes = [f"g{i}" for i in range(n_genes)]
    truth = np.zeros(n_genes, dtype=np.int8)
    truth[:10], truth[10:20] = 1, -1
    return pd.DataFrame(values, index=genes, columns=list(design["sample_id"])), design, truth


@pytest.mark.parametrize("test", ["moderated", "welch"])
def test_ternary_labels_recover_known_genes(test):
    expression, design, truth = synthetic()
    de = differential_expression(expression, design, test=test)
    assert list(de.columns) == ["condition", "gene", "log2fc", "t", "p", "q", "df"]
    labels = ternary_labels(de)
    assert labels.dtypes.eq(np.int8).all()
    assert list(labels.index) == ["c1"] and list(labels.columns) == list(expression.index)
    np.testing.assert_array_equal(labels.loc["c1"].to_numpy(), truth)


def test_log2fc_is_condition_mean_minus_control_mean():
    expression, design, _ = synthetic()
    de = differential_expression(expression, design).set_index("gene")
    expected = expression.iloc[:, :3].mean(axis=1) - expression.iloc[:, 3:].mean(axis=1)
    np.testing.assert_allclose(de["log2fc"], expected)


def test_moderated_t_has_more_power_than_welch_on_small_n():
    rng = np.random.default_rng(7)
    n_genes, n_true = 2000, 200
    sigma2 = 0.3 / (rng.chisquare(4, n_genes) / 4)
    values = rng.normal(0.0, np.sqrt(sigma2)[:, None], (n_genes, 6)) + 5.0
    signs = np.where(np.arange(n_true) % 2 == 0, 1, -1)
    values[:n_true, :3] += 2.0 * signs[:, None]
    design = make_design({"c1": ("g0", "OE", 3, "A")}, {"A": 3})
    expression = pd.DataFrame(
        values, index=[f"g{i}" for i in range(n_genes)], columns=list(design["sample_id"])
    )
    calls = {}
    for test in ("moderated", "welch"):
        y = ternary_labels(differential_expression(expression, design, test=test)).loc["c1"]
        calls[test] = int((y.to_numpy()[:n_true] == signs).sum())
    assert calls["moderated"] >= calls["welch"]
    assert calls["moderated"] > calls["welch"] + 50


def test_moderated_t_matches_hand_computation():
    expression, design, _ = synthetic(seed=3, sd=0.5)
    de = differential_expression(expression, design)
    a, b = expression.to_numpy()[:, :3], expression.to_numpy()[:, 3:]
    s2 = (a.var(axis=1, ddof=1) * 2 + b.var(axis=1, ddof=1) * 2) / 4
    d0, s0_2 = fit_variance_prior(s2, 4)
    post = s0_2 if np.isinf(d0) else (d0 * s0_2 + 4 * s2) / (d0 + 4)
    t = (a.mean(axis=1) - b.mean(axis=1)) / np.sqrt(post * (2 / 3))
    np.testing.assert_allclose(de["t"], t)
    np.testing.assert_allclose(de["df"], 4 + d0)
    df = 4 + d0
    p = 2 * (stats.norm.sf(np.abs(t)) if np.isinf(df) else stats.t.sf(np.abs(t), df))
    np.testing.assert_allclose(de["p"], p)


def test_zero_variance_genes_do_not_crash():
    expression, design, truth = synthetic()
    expression.iloc[50] = 0.0
    expression.iloc[51, :3], expression.iloc[51, 3:] = 4.0, 0.0
    for test in ("moderated", "welch"):
        de = differential_expression(expression, design, test=test).set_index("gene")
        assert de.loc["g50", "p"] == 1.0 and de.loc["g50", "log2fc"] == 0.0
        assert np.isfinite(de["p"]).all() and np.isfinite(de["q"]).all()
    moderated = differential_expression(expression, design).set_index("gene")
    assert np.isfinite(moderated.loc["g51", "t"]) and moderated.loc["g51", "t"] > 0
    assert moderated.loc["g50", "t"] == 0.0


def test_shared_control_serves_several_conditions():
    rng = np.random.default_rng(1)
    design = make_design(
        {"c1": ("g0", "KO", 2, "A"), "c2": ("g1+g2", "OE", 3, "A"), "c3": ("g3", "KD", 2, "B")},
        {"A": 3, "B": 2},
    )
    expression = pd.DataFrame(
        rng.normal(5, 1, (30, len(design))),
        index=[f"g{i}" for i in range(30)],
        columns=list(design["sample_id"]),
    )
    de = differential_expression(expression, design)
    assert list(pd.unique(de["condition"])) == ["c1", "c2", "c3"]
    c2 = de[de["condition"] == "c2"].set_index("gene")
    expected = expression.iloc[:, 2:5].mean(axis=1) - expression.iloc[:, 7:10].mean(axis=1)
    np.testing.assert_allclose(c2["log2fc"], expected)
    assert (de.loc[de["condition"] == "c3", "df"] > 2 - 1e-12).all()


def test_one_versus_one_condition_raises():
    expression, design, _ = synthetic()
    design = design.iloc[[0, 3]]
    with pytest.raises(InputError, match="'c1'.*no test"):
        differential_expression(expression, design, source_design=DESIGN)
    with pytest.raises(InputError, match="'c1'.*no test"):
        differential_expression(expression, design, test="welch", source_design=DESIGN)


def test_welch_with_a_single_control_calls_nothing():
    expression, design, _ = synthetic()
    design = design.iloc[:4]
    with pytest.warns(RuntimeWarning, match="'c1'"):
        de = differential_expression(expression, design, test="welch")
    assert (de["p"] == 1.0).all() and de["t"].isna().all()
    assert (ternary_labels(de).to_numpy() == 0).all()
    moderated = ternary_labels(differential_expression(expression, design))
    assert (moderated.to_numpy() != 0).sum() == 20


def test_unknown_test_raises():
    expression, design, _ = synthetic()
    with pytest.raises(InputError, match="unknown test"):
        differential_expression(expression, design, test="wilcoxon")  # type: ignore[arg-type]


def test_ternary_thresholds_are_strict():
    de = pd.DataFrame(
        {
            "condition": ["c"] * 5,
            "gene": list("abcde"),
            "log2fc": [1.0, -1.5, 2.0, 0.5, -3.0],
            "q": [0.001, 0.01, 0.05, 0.001, np.nan],
        }
    )
    labels = ternary_labels(de, lfc_threshold=1.0, fdr=0.05)
    np.testing.assert_array_equal(labels.loc["c"].to_numpy(), [0, -1, 0, 0, 0])
    with pytest.raises(InputError, match="'q'"):
        ternary_labels(de.drop(columns="q"), source="de.csv")
    with pytest.raises(InputError, match="fdr"):
        ternary_labels(de, fdr=0.0)


# validate_design -------------------------------------------------------------


def valid_tables():
    expression, design, _ = synthetic(n_genes=20)
    return expression, design


def check_error(expression, design, *needles: str) -> None:
    with pytest.raises(InputError) as caught:
        validate_design(expression, design, EXPR, DESIGN)
    message = str(caught.value)
    for needle in needles:
        assert needle in message, (needle, message)


def test_validate_design_accepts_valid_tables():
    validate_design(*valid_tables(), EXPR, DESIGN)


def test_missing_design_column():
    expression, design = valid_tables()
    check_error(expression, design.drop(columns="control_group"), DESIGN, "control_group")


def test_duplicate_sample_in_design():
    expression, design = valid_tables()
    design.loc[1, "sample_id"] = "c1_0"
    check_error(expression, design, DESIGN, "sample_id", "c1_0")


def test_duplicate_sample_in_expression():
    expression, design = valid_tables()
    expression.columns = ["c1_0", "c1_1", "c1_1", "ctl_A_0", "ctl_A_1", "ctl_A_2"]
    check_error(expression, design, EXPR, "c1_1")


def test_design_sample_absent_from_expression():
    expression, design = valid_tables()
    check_error(expression.drop(columns="ctl_A_2"), design, DESIGN, "sample_id", "ctl_A_2")


def test_non_numeric_expression_value():
    expression, design = valid_tables()
    expression = expression.astype(object)
    expression.loc["g7", "c1_2"] = "n/a"
    check_error(expression, design, EXPR, "c1_2", "g7", "n/a")


def test_nan_expression_value():
    expression, design = valid_tables()
    expression.loc["g4", "ctl_A_1"] = np.nan
    check_error(expression, design, EXPR, "ctl_A_1", "g4")


def test_condition_without_controls():
    expression, design = valid_tables()
    design.loc[design["role"] == "control", "control_group"] = "B"
    check_error(expression, design, DESIGN, "control_group", "c1", "'A'")


def test_unknown_perturbation_type():
    expression, design = valid_tables()
    design.loc[0, "perturbation_type"] = "CRISPRi"
    check_error(expression, design, DESIGN, "perturbation_type", "CRISPRi", "c1_0", "g0")


def test_unknown_role():
    expression, design = valid_tables()
    design.loc[4, "role"] = "reference"
    check_error(expression, design, DESIGN, "role", "ctl_A_1", "reference")


def test_control_nan_fields_are_empty():
    expression, design = valid_tables()
    design.loc[design["role"] == "control", ["perturbation", "perturbation_type"]] = np.nan
    validate_design(expression, design, EXPR, DESIGN)


# perturbation_matrix ---------------------------------------------------------


def test_perturbation_matrix_encoding():
    design = make_design(
        {
            "ko": ("a", "KO", 2, "A"),
            "kd": ("b", "KD", 2, "A"),
            "oe": ("c", "OE", 2, "A"),
            "double": ("a+d", "OE", 2, "A"),
            "mixed": ("b+c", "KO+OE", 2, "A"),
        },
        {"A": 2},
    )
    conditions, x = perturbation_matrix(design, ["a", "b", "c", "d", "e"])
    assert conditions == ["ko", "kd", "oe", "double", "mixed"]
    assert x.dtype == np.int8
    np.testing.assert_array_equal(
        x,
        [
            [-1, 0, 0, 0, 0],
            [0, -1, 0, 0, 0],
            [0, 0, 1, 0, 0],
            [1, 0, 0, 1, 0],
            [0, -1, 1, 0, 0],
        ],
    )


def test_perturbation_matrix_unknown_gene():
    design = make_design({"c1": ("gadE+gadW", "KO", 2, "A")}, {"A": 2})
    with pytest.raises(InputError) as caught:
        perturbation_matrix(design, ["gadE", "crp"], source=DESIGN)
    message = str(caught.value)
    assert all(s in message for s in ("gadW", "c1", DESIGN, "perturbation"))


def test_constant_expression_cannot_fit_the_prior():
    expression, design, _ = synthetic(n_genes=20)
    expression.iloc[:, :] = 1.0
    with pytest.raises(InputError, match="'c1'.*prior"):
        differential_expression(expression, design, source_design=DESIGN)
