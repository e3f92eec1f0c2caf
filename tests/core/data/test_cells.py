"""Single-cell screens: conventions, control labels, perturbation types and pseudobulk."""

import tracemalloc

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from aligned_kedro.core.data.cells import cell_conditions, per_cell_labels, pooling, pseudobulk
from aligned_kedro.core.data.labels import log_cpm, perturbation_matrix
from aligned_kedro.core.errors import InputError


def obs(labels, column="condition", **extra):
    index = [f"cell{i}" for i in range(len(labels))]
    return pd.DataFrame({column: labels, **extra}, index=index)


def test_gears_labels_give_controls_singles_and_doubles():
    table = cell_conditions(
        obs(["ctrl", "A+ctrl", "ctrl+A", "A+B", "B+ctrl"]), perturbation_type_default="CRISPRa"
    )
    assert table["is_control"].tolist() == [True, False, False, False, False]
    assert table["condition"].tolist() == ["control", "A", "A", "A+B", "B"]
    assert set(table.loc[~table["is_control"], "perturbation_type"]) == {"OE"}


def test_scperturb_labels_with_a_guide_delimiter_and_two_control_labels():
    table = cell_conditions(
        obs(["non-targeting", "control", "A_B", "C"], column="perturbation"),
        convention="scperturb",
        column="perturbation",
        control=["control", "non-targeting"],
        delimiter="_",
        perturbation_type_default="CRISPRi",
    )
    assert table["is_control"].tolist() == [True, True, False, False]
    assert table.loc["cell2", "perturbation"] == "A+B"
    assert table.loc["cell3", "perturbation_type"] == "KD"


def test_types_per_cell_follow_the_section_2_1_signs():
    table = cell_conditions(
        obs(["ctrl", "A+ctrl", "B+ctrl", "C+ctrl"], kind=["", "knockout", "CRISPRi", "CRISPRa"]),
        type_column="kind",
    )
    assert table["perturbation_type"].tolist()[1:] == ["KO", "KD", "OE"]
    design = pd.DataFrame(
        {
            "sample_id": ["s1", "s2", "s3", "c"],
            "condition": ["A", "B", "C", "ctrl"],
            "role": ["perturbed"] * 3 + ["control"],
            "perturbation": ["A", "B", "C", ""],
            "perturbation_type": [*table["perturbation_type"].tolist()[1:], ""],
            "control_group": ["g"] * 4,
        }
    )
    _, x = perturbation_matrix(design, ["A", "B", "C"])
    assert np.diag(x).tolist() == [-1, -1, 1]


def test_no_type_is_never_assumed():
    with pytest.raises(InputError, match="no perturbation type.*knockdowns are never assumed"):
        cell_conditions(obs(["ctrl", "A+ctrl"]))
    with pytest.raises(InputError, match=r"unknown perturbation type 'CRISPRx'.*row 'cell1'"):
        cell_conditions(obs(["ctrl", "A+ctrl"]), perturbation_type_default="CRISPRx")


def test_missing_control_cells_are_refused():
    with pytest.raises(InputError, match=r"no control cells.*\['non-targeting'\]"):
        cell_conditions(
            obs(["A", "B"]),
            convention="scperturb",
            control="non-targeting",
            perturbation_type_default="KO",
        )


def test_control_labels_differing_in_case_are_ambiguous():
    with pytest.raises(InputError, match=r"'Control'.*only in case: ambiguous control.*cell1"):
        cell_conditions(
            obs(["control", "Control", "A"]),
            convention="scperturb",
            control="control",
            perturbation_type_default="KO",
        )


def test_a_cell_mixing_control_and_targeting_guides_is_ambiguous():
    with pytest.raises(InputError, match=r"'A\|control' mixes control.*row 'cell1', gene 'A'"):
        cell_conditions(
            obs(["control", "A|control"]),
            convention="scperturb",
            control="control",
            delimiter="|",
            perturbation_type_default="KO",
        )


def test_two_labels_of_one_gene_set_are_a_duplicated_condition_unless_merged():
    labels = obs(["ctrl", "A+B", "B+A"])
    with pytest.raises(InputError, match=r"'A\+B' and 'B\+A'.*duplicated condition"):
        cell_conditions(labels, perturbation_type_default="OE")
    merged = cell_conditions(labels, perturbation_type_default="OE", duplicate_conditions="merge")
    assert merged["condition"].tolist()[1:] == ["A+B", "A+B"]


def test_empty_label_names_the_cell():
    with pytest.raises(InputError, match=r"empty perturbation label.*row 'cell1'"):
        cell_conditions(obs(["ctrl", None]), perturbation_type_default="OE")


def cells_table(conditions):
    labels = ["ctrl" if c == "control" else c for c in conditions]
    return cell_conditions(obs(labels), perturbation_type_default="KO")


def test_pseudobulk_counts_are_summed_per_part_and_given_as_log2_cpm():
    table = cells_table(["control"] * 4 + ["A"] * 2)
    X = sp.csr_matrix(np.array([[1, 3], [1, 3], [1, 3], [1, 3], [4, 0], [2, 2]], dtype=float))
    expression, design, report = pseudobulk(
        X, ["A", "B"], table, scale="counts", pseudo_replicates=2, min_cells=2, seed=0
    )
    assert design["role"].value_counts().to_dict() == {"control": 2, "perturbed": 2}
    assert design["n_cells"].tolist() == [1, 1, 2, 2]
    perturbed = design.loc[design["role"].eq("perturbed"), "sample_id"]
    totals = expression[perturbed].sum(axis=1)  # log2 CPM of cells (4,0) and (2,2)
    expected = np.log2(np.array([1e6 + 1, 1])) + np.log2(5e5 + 1)
    assert np.allclose(totals.to_numpy(), expected)
    control = design.loc[design["role"].eq("control"), "sample_id"]
    expected = np.log2(np.array([0.25e6, 0.75e6]) + 1)
    assert np.allclose(expression[control].to_numpy(), expected[:, None])
    assert report.set_index("condition")["n_cells"].to_dict() == {"A": 2, "control": 4}


def test_pseudobulk_log1p_is_averaged_and_expressed_in_log2():
    table = cells_table(["control", "control", "A", "A"])
    X = np.log1p(np.array([[1.0], [3.0], [7.0], [7.0]]))
    expression, design, _ = pseudobulk(
        X, ["A"], table, scale="log1p", pseudo_replicates=1, min_cells=2
    )
    values = dict(zip(design["condition"], expression.iloc[0], strict=True))
    assert values["A"] == pytest.approx(np.log2(8.0))
    assert values["ctrl__control"] == pytest.approx((np.log(2) + np.log(4)) / 2 / np.log(2))


def test_real_replicates_make_one_sample_each():
    table = cells_table(["control"] * 4 + ["A"] * 4)
    _, design, _ = pseudobulk(
        np.ones((8, 2)),
        ["A", "B"],
        table,
        replicates=pd.Series([1, 2, 1, 2, 1, 1, 2, 2], index=table.index),
        min_cells=2,
    )
    assert sorted(design["sample_id"]) == ["A__1", "A__2", "control__1", "control__2"]


def test_conditions_with_too_few_cells_are_dropped_and_listed_or_refused(caplog):
    table = cells_table(["control"] * 5 + ["A"] * 5 + ["B"] * 2)
    X = np.ones((12, 2))
    with caplog.at_level("WARNING"):
        _, design, report = pseudobulk(X, ["A", "B"], table, min_cells=3)
    assert "pseudobulk: 1 conditions with fewer than 3 cells dropped" in caplog.text
    assert "B" not in set(design["condition"])
    assert report.set_index("condition").loc["B", "status"] == "fewer than min_cells"
    with pytest.raises(InputError, match=r"2 cells, fewer than min_cells = 3.*row 'B'"):
        pseudobulk(X, ["A", "B"], table, min_cells=3, too_few_cells="error")
    with pytest.raises(InputError, match=r"5 control cells, fewer than min_cells = 6"):
        pseudobulk(X, ["A", "B"], table, min_cells=6)


@pytest.mark.parametrize(("value", "kind"), [(np.nan, "NaN or infinite"), (-1.0, "negative")])
def test_nan_and_negative_values_name_the_cell_and_gene(value, kind):
    table = cells_table(["control", "control", "A"])
    X = np.ones((3, 2))
    X[2, 1] = value
    with pytest.raises(InputError, match=rf"{kind} expression value.*row 'cell2', gene 'B'"):
        pseudobulk(X, ["A", "B"], table, min_cells=1)


def test_bulk_counts_give_log2_cpm_and_refuse_negative_or_missing_counts():
    counts = pd.DataFrame({"s1": [10, 30], "s2": [0, 4]}, index=["A", "B"])
    values = log_cpm(counts)
    assert values.loc["A", "s1"] == pytest.approx(np.log2(0.25e6 + 1))
    assert values.loc["A", "s2"] == 0.0
    with pytest.raises(InputError, match=r"negative count -2.*column 's2', row 'B'"):
        log_cpm(counts.assign(s2=[0, -2]))
    with pytest.raises(InputError, match=r"missing or non-numeric count.*column 's1', row 'A'"):
        log_cpm(counts.assign(s1=[np.nan, 3]))
    with pytest.raises(InputError, match=r"sample has no counts.*column 's2'"):
        log_cpm(counts.assign(s2=[0, 0]))


# --- per-cell labels: sign(x_cell - x_control) against a matched random control cell -------

GENES = ["A", "B", "C", "D"]


def screen(batches: list[str] | None = None):
    """Identical control cells (log2 value 4 everywhere), so each perturbed cell's labels are
    the sign of its own values minus 4: A's cells lower A, A+B's raise B; D moves by 0.5."""
    labels = ["ctrl"] * 6 + ["A+ctrl"] * 5 + ["A+B"] * 4
    X = np.full((len(labels), len(GENES)), 4.0)
    X[6:11, 0] = 1.0
    X[11:, 1] = 7.0
    X[6:, 3] = 4.5
    cells = cell_conditions(
        obs(labels, **({"gem": batches} if batches else {})), perturbation_type_default="KO"
    )
    return sp.csr_matrix(X), cells


def test_per_cell_labels_are_the_sign_of_the_difference_above_the_threshold():
    X, cells = screen()
    y, rows, report = per_cell_labels(X, GENES, cells, scale="log2", n_cells=None, min_cells=2)
    assert y.dtypes.eq(np.int8).all() and y.index.name == "row"
    assert rows["condition"].tolist() == ["A"] * 5 + ["A+B"] * 4
    assert rows["row"].tolist() == [
        f"{c}@{cell}" for c, cell in zip(rows["condition"], rows["cell"], strict=True)
    ]
    assert rows["control_cell"].isin(cells.index[cells["is_control"]]).all()
    a, ab = (
        y.loc[rows["condition"].eq("A").to_numpy()],
        y.loc[rows["condition"].eq("A+B").to_numpy()],
    )
    assert (a.to_numpy() == [-1, 0, 0, 0]).all()  # |0.5| on D is below the threshold of 1
    assert (ab.to_numpy() == [0, 1, 0, 0]).all()
    no_threshold, _, _ = per_cell_labels(
        X, GENES, cells, scale="log2", n_cells=None, min_cells=2, threshold=0.0
    )
    assert (no_threshold["D"] == 1).all()  # the reference: any difference counts
    assert report.set_index("condition")["n_sampled"].to_dict()["A"] == 5


def test_counts_are_normalised_per_cell_before_the_difference():
    labels = ["ctrl"] * 3 + ["A+ctrl"] * 3
    X = np.array([[10, 10, 0]] * 3 + [[40, 40, 0]] * 3, dtype=float)  # four times the depth
    cells = cell_conditions(obs(labels), perturbation_type_default="KO")
    y, _, _ = per_cell_labels(X, ["A", "B", "C"], cells, scale="counts", min_cells=2)
    assert (y.to_numpy() == 0).all()
    log1p, _, _ = per_cell_labels(np.log1p(X), ["A", "B", "C"], cells, scale="log1p", min_cells=2)
    assert (log1p.to_numpy()[:, :2] == 1).all()  # log2(41) - log2(11) = 1.9 > 1


def test_sampling_is_seeded_counted_and_draws_only_n_cells():
    X, cells = screen()
    first = per_cell_labels(X, GENES, cells, scale="log2", n_cells=3, min_cells=2, seed=7)
    again = per_cell_labels(X, GENES, cells, scale="log2", n_cells=3, min_cells=2, seed=7)
    other = per_cell_labels(X, GENES, cells, scale="log2", n_cells=3, min_cells=2, seed=8)
    pd.testing.assert_frame_equal(first[1], again[1])
    pd.testing.assert_frame_equal(first[0], again[0])
    assert first[1]["cell"].tolist() != other[1]["cell"].tolist() or not first[1][
        "control_cell"
    ].equals(other[1]["control_cell"])
    counts = first[2].set_index("condition")
    assert counts.loc["A", "n_cells"] == 5 and counts.loc["A", "n_sampled"] == 3
    assert counts.loc["A+B", "n_sampled"] == 3 and len(first[0]) == 6
    assert first[1].groupby("condition")["cell"].nunique().tolist() == [3, 3]


def test_controls_are_drawn_from_the_cells_own_batch():
    batches = ["g1", "g1", "g1", "g2", "g2", "g2"] + ["g1", "g2"] * 4 + ["g1"]
    X, cells = screen(batches)
    X = X.tolil()
    X[:3, 2] = 8.0  # batch g1's controls differ from g2's on gene C
    batch = pd.Series(batches, index=cells.index)
    y, rows, _ = per_cell_labels(
        X.tocsr(), GENES, cells, scale="log2", n_cells=None, min_cells=2, batches=batch
    )
    assert (rows["batch"].to_numpy() == batch.loc[rows["cell"]].to_numpy()).all()
    assert (batch.loc[rows["control_cell"]].to_numpy() == rows["batch"].to_numpy()).all()
    assert (y["C"].to_numpy() == np.where(rows["batch"].eq("g1"), -1, 0)).all()


def test_a_condition_without_control_cells_in_its_batch_names_cell_column_and_condition():
    batches = ["g1"] * 6 + ["g1"] * 5 + ["g1", "g1", "g1", "g3"]
    X, cells = screen(batches)
    with pytest.raises(InputError, match="no control cells in batch 'g3'") as error:
        per_cell_labels(
            X,
            GENES,
            cells,
            scale="log2",
            min_cells=2,
            batches=pd.Series(batches, index=cells.index),
            batch_column="gem",
        )
    assert (error.value.column, error.value.row, error.value.gene) == ("gem", "cell14", "A+B")


def test_small_conditions_are_dropped_as_in_pseudobulk_and_bad_options_refused():
    X, cells = screen()
    y, rows, report = per_cell_labels(X, GENES, cells, scale="log2", min_cells=5)
    assert set(rows["condition"]) == {"A"} and len(y) == 5
    assert report.set_index("condition").loc["A+B", "n_sampled"] == 0
    with pytest.raises(InputError, match="fewer than min_cells"):
        per_cell_labels(X, GENES, cells, scale="log2", min_cells=5, too_few_cells="error")
    with pytest.raises(InputError, match="threshold must be >= 0"):
        per_cell_labels(X, GENES, cells, scale="log2", min_cells=2, threshold=-1)
    with pytest.raises(InputError, match="n_cells must be at least 1"):
        per_cell_labels(X, GENES, cells, scale="log2", min_cells=2, n_cells=0)


def test_a_float32_csr_screen_is_read_without_a_copy_and_labelled_as_in_float64(monkeypatch):
    monkeypatch.setattr(pooling, "BLOCK_VALUES", 50_000)
    rng = np.random.default_rng(0)
    conditions = ["ctrl"] * 1500 + ["A+ctrl"] * 1500 + ["A+B"] * 1490 + ["B+ctrl"] * 5
    counts = sp.random(len(conditions), 300, density=0.3, format="csr", random_state=rng)
    counts.data = rng.poisson(4.0, counts.nnz).astype(np.float32) + 1
    X = counts.astype(np.float32)
    cells = cell_conditions(obs(conditions), perturbation_type_default="OE")
    genes = [f"G{i}" for i in range(300)]
    options = {"scale": "counts", "min_cells": 10}
    tracemalloc.start()
    expression, design, _ = pseudobulk(X, genes, cells, **options)
    y, rows, _ = per_cell_labels(X, genes, cells, **options)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < X.data.nbytes  # a float64 copy of X alone takes twice its data
    assert "B" not in set(design["condition"])  # dropped (5 cells) without copying X
    wide = sp.csr_matrix(X.toarray().astype(np.float64))
    expected = pseudobulk(wide, genes, cells, **options)[0]
    pd.testing.assert_frame_equal(expression, expected)
    pd.testing.assert_frame_equal(y, per_cell_labels(wide, genes, cells, **options)[0])
