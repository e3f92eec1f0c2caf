"""Tests for seeded condition splits."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from aligned_kedro.core.data.splits import (
    SPLIT_STRATEGIES,
    combo_split,
    expand_groups,
    group_folds,
    perturbation_groups,
    random_split,
    split_conditions,
    strategy_support,
    unseen_perturbation_split,
)
from aligned_kedro.core.errors import InputError

GENES = [f"g{i}" for i in range(12)]

perturbation_sets = st.dictionaries(
    keys=st.text(alphabet="abcdefghij", min_size=1, max_size=4),
    values=st.lists(st.sampled_from(GENES), min_size=1, max_size=2, unique=True),
    min_size=2,
    max_size=25,
)


def assert_partition(split: dict[str, list[str]], conditions) -> None:
    train, test = set(split["train"]), set(split["test"])
    assert set(split) == {"train", "test"}
    assert train and test
    assert not train & test
    assert train | test == set(conditions)
    assert len(split["train"]) + len(split["test"]) == len(set(conditions))


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.text(min_size=1, max_size=5), min_size=2, max_size=40, unique=True),
    st.floats(0.01, 0.99),
    st.integers(0, 2**32 - 1),
)
def test_random_split_partitions_and_is_deterministic(conditions, fraction, seed):
    split = random_split(conditions, test_fraction=fraction, seed=seed)
    assert_partition(split, conditions)
    assert split == random_split(conditions, test_fraction=fraction, seed=seed)
    expected = min(max(round(fraction * len(conditions)), 1), len(conditions) - 1)
    assert len(split["test"]) == expected


def test_random_split_depends_on_seed():
    conditions = [f"c{i}" for i in range(30)]
    splits = {tuple(random_split(conditions, test_fraction=0.2, seed=s)["test"]) for s in range(5)}
    assert len(splits) > 1


@settings(max_examples=150, deadline=None)
@given(perturbation_sets, st.floats(0.05, 0.95), st.integers(0, 2**32 - 1))
def test_unseen_split_has_no_perturbed_gene_leakage(perturbations, fraction, seed):
    try:
        split = unseen_perturbation_split(perturbations, test_fraction=fraction, seed=seed)
    except InputError as error:
        assert "empty" in str(error)
        return
    assert_partition(split, perturbations)
    train_genes = {g for c in split["train"] for g in perturbations[c]}
    test_genes = {g for c in split["test"] for g in perturbations[c]}
    assert not train_genes & test_genes
    assert split == unseen_perturbation_split(perturbations, test_fraction=fraction, seed=seed)
    reordered = dict(reversed(list(perturbations.items())))
    assert split == unseen_perturbation_split(reordered, test_fraction=fraction, seed=seed)


@settings(max_examples=80, deadline=None)
@given(perturbation_sets, st.floats(0.05, 0.95), st.integers(0, 2**32 - 1))
def test_unseen_split_succeeds_when_a_small_group_exists(perturbations, fraction, seed):
    groups = perturbation_groups(perturbations)
    target = min(max(round(fraction * len(perturbations)), 1), len(perturbations) - 1)
    assume(len(groups) >= 2 and min(len(g) for g in groups) <= target)
    split = unseen_perturbation_split(perturbations, test_fraction=fraction, seed=seed)
    assert 1 <= len(split["test"]) <= target


def test_perturbation_groups_are_connected_components():
    perturbations = {
        "a": ["g1"],
        "b": ["g1", "g2"],
        "c": ["g2"],
        "d": ["g3"],
        "e": ["g4", "g5"],
        "f": ["g5"],
        "ctl": [],
    }
    assert perturbation_groups(perturbations) == [["a", "b", "c"], ["ctl"], ["d"], ["e", "f"]]


def test_unseen_split_keeps_double_perturbations_with_their_singles():
    perturbations = {f"s{i}": [f"g{i}"] for i in range(10)}
    perturbations["d01"] = ["g0", "g1"]
    for seed in range(20):
        split = unseen_perturbation_split(perturbations, test_fraction=0.3, seed=seed)
        together = {"s0", "s1", "d01"}
        assert together <= set(split["train"]) or together <= set(split["test"])


def test_unseen_split_single_group_raises():
    perturbations = {"a": ["g1"], "b": ["g1", "g2"], "c": ["g2"]}
    with pytest.raises(InputError, match="empty.*too few groups"):
        unseen_perturbation_split(perturbations, test_fraction=0.3, seed=0)


def test_unseen_split_empty_test_raises():
    perturbations = {"a": ["g1"], "b": ["g1"], "c": ["g2"], "d": ["g2"], "e": ["g3"], "f": ["g3"]}
    with pytest.raises(InputError, match="test split is empty"):
        unseen_perturbation_split(perturbations, test_fraction=0.1, seed=0)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.2, 1.5])
def test_fraction_must_be_open_unit_interval(fraction):
    with pytest.raises(InputError, match="test_fraction"):
        random_split(["a", "b", "c"], test_fraction=fraction, seed=0)
    with pytest.raises(InputError, match="test_fraction"):
        unseen_perturbation_split({"a": ["x"], "b": ["y"]}, test_fraction=fraction, seed=0)


def test_random_split_needs_two_conditions():
    with pytest.raises(InputError, match="cannot split 1"):
        random_split(["a"], test_fraction=0.5, seed=0)


def test_duplicate_conditions_raise():
    with pytest.raises(InputError, match="duplicate condition 'a'"):
        random_split(["a", "b", "a"], test_fraction=0.5, seed=0)


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        keys=st.text(alphabet="abcdef", min_size=1, max_size=3),
        values=st.integers(1, 6),
        min_size=2,
        max_size=15,
    ),
    st.floats(0.05, 0.95),
    st.integers(0, 2**32 - 1),
)
def test_per_cell_rows_of_a_condition_stay_on_its_side(cells, fraction, seed):
    members = {c: [f"{c}@cell{i}" for i in range(n)] for c, n in cells.items()}
    by_condition = random_split(list(cells), test_fraction=fraction, seed=seed)
    split = expand_groups(by_condition, members)
    side = {row: part for part in ("train", "test") for row in split[part]}
    assert len(side) == sum(cells.values()) == len(split["train"]) + len(split["test"])
    for condition, rows in members.items():
        assert {side[row] for row in rows} == {
            "train" if condition in by_condition["train"] else "test"
        }
    assert split["conditions"] == by_condition


def test_expanded_combo_subsets_name_rows_and_keep_the_unseen_genes():
    genes = {"A": ["A"], "B": ["B"], "C": ["C"], "D": ["D"], "A+B": ["A", "B"], "C+D": ["C", "D"]}
    combo = combo_split(genes, test_fraction=0.5, seed=1)
    members = {c: [f"{c}@x", f"{c}@y"] for c in genes}
    split = expand_groups(combo, members)
    for part in ("train", "test", "held_out", "unseen_single", "combo_seen0", "combo_seen2"):
        assert split[part] == [row for c in combo[part] for row in members[c]]
    assert split["unseen_genes"] == combo["unseen_genes"]
    with pytest.raises(InputError, match="'A' is in both train and test"):
        expand_groups({"train": ["A"], "test": ["A"]}, members)
    with pytest.raises(InputError, match="'E' of the test split has no rows"):
        expand_groups({"train": ["A"], "test": ["E"]}, members)


@settings(max_examples=100, deadline=None)
@given(perturbation_sets, st.integers(2, 6), st.integers(0, 2**32 - 1))
def test_group_folds_partition_without_a_perturbed_gene_in_two_folds(perturbations, n, seed):
    try:
        folds = group_folds(perturbations, n, seed)
    except InputError as error:
        assert len(perturbation_groups(perturbations)) < n
        assert f"cannot make {n} folds" in str(error)
        return
    assert len(folds) == n and all(folds)
    members = [c for fold in folds for c in fold]
    assert sorted(members) == sorted(perturbations)
    genes = [{g for c in fold for g in perturbations[c]} for fold in folds]
    for i in range(n):
        for j in range(i + 1, n):
            assert not genes[i] & genes[j]
    assert folds == group_folds(perturbations, n, seed)


@settings(max_examples=60, deadline=None)
@given(perturbation_sets, st.integers(0, 2**32 - 1))
def test_each_strategy_by_name_and_what_a_dataset_supports(perturbations, seed):
    options = {"test_fraction": 0.3, "seed": seed}
    support = strategy_support(perturbations, **options)
    assert list(support) == list(SPLIT_STRATEGIES) and support["none"] is None
    for strategy, reason in support.items():
        if reason is not None:
            with pytest.raises(InputError):
                split = split_conditions(perturbations, strategy=strategy, **options)
                assert not (split["train"] and split["test"])
                raise InputError("empty part")
            continue
        split = split_conditions(perturbations, strategy=strategy, **options)
        assert not set(split["train"]) & set(split["test"])
        assert split["train"] and (split["test"] or strategy == "none")
    everything = split_conditions(perturbations, strategy="none", **options)
    assert everything["train"] == sorted(perturbations) and everything["test"] == []


def test_an_unknown_strategy_names_the_parameter():
    with pytest.raises(InputError, match=r"unknown split strategy 'gears'.*data_processing"):
        split_conditions({"a": ["g1"]}, strategy="gears")
