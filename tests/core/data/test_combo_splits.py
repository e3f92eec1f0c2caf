"""GEARS-style combo splits and fixed test lists (paper table 5)."""

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aligned_kedro.core.data.splits import COMBO_SUBSETS, combo_split, fixed_split
from aligned_kedro.core.errors import InputError


def screen(n_genes: int, doubles: list[tuple[int, int]]) -> dict[str, list[str]]:
    genes = [f"G{i}" for i in range(n_genes)]
    conditions = {g: [g] for g in genes}
    conditions.update({f"G{a}+G{b}": [f"G{a}", f"G{b}"] for a, b in doubles})
    return conditions


@settings(max_examples=40, deadline=None)
@given(
    n_genes=st.integers(3, 12),
    seed=st.integers(0, 1000),
    fraction=st.sampled_from([0.2, 0.3, 0.5]),
    data=st.data(),
)
def test_combo_subsets_count_the_seen_singles_of_each_double(n_genes, seed, fraction, data):
    pairs = list(itertools.combinations(range(n_genes), 2))
    doubles = data.draw(st.lists(st.sampled_from(pairs), unique=True, max_size=15))
    perturbations = screen(n_genes, doubles)
    split = combo_split(perturbations, test_fraction=fraction, seed=seed)
    train = set(split["train"])
    trained = {perturbations[c][0] for c in train if len(perturbations[c]) == 1}
    assert not train & set(split["test"])
    assert set(split["test"]) == {c for s in COMBO_SUBSETS for c in split[s]}
    assert train | set(split["test"]) == set(perturbations)
    assert set(split["unseen_single"]) == set(split["unseen_genes"])
    assert not trained & set(split["unseen_genes"])
    for seen in (0, 1, 2):
        for condition in split[f"combo_seen{seen}"]:
            assert sum(g in trained for g in perturbations[condition]) == seen
    for condition in train:
        assert all(g in trained for g in perturbations[condition])
    assert split == combo_split(perturbations, test_fraction=fraction, seed=seed)


def test_combo_split_on_a_hand_built_screen():
    perturbations = screen(4, [(0, 1), (0, 2), (2, 3)])
    split = combo_split(perturbations, test_fraction=0.5, seed=3, combo_seen2_fraction=1.0)
    unseen = set(split["unseen_genes"])
    assert len(unseen) == 2
    expected = {0: [], 1: [], 2: []}
    for condition in ("G0+G1", "G0+G2", "G2+G3"):
        expected[2 - len(set(perturbations[condition]) & unseen)].append(condition)
    assert {k: split[f"combo_seen{k}"] for k in expected} == expected


def test_combo_split_needs_two_single_genes():
    with pytest.raises(InputError, match="single-gene conditions of at least two genes"):
        combo_split({"A+B": ["A", "B"], "A": ["A"]}, test_fraction=0.5, seed=0)


NORMAN_TABLE_5 = ["FEV", "MAP7D1", "MAP7D1", "UBASH3B + OSR2", "osr2+ubash3b"]


def test_fixed_split_matches_names_in_any_order_and_case():
    perturbations = {
        "FEV": ["ENSG1"],
        "MAP7D1": ["ENSG2"],
        "OSR2+UBASH3B": ["ENSG4", "ENSG3"],
        "KLF1": ["ENSG5"],
    }
    names = {"ENSG1": "FEV", "ENSG2": "MAP7D1", "ENSG3": "UBASH3B", "ENSG4": "OSR2"}
    split = fixed_split(perturbations, NORMAN_TABLE_5, names=names)
    assert split == {"train": ["KLF1"], "test": ["FEV", "MAP7D1", "OSR2+UBASH3B"], "missing": []}


def test_fixed_split_names_missing_entries_or_drops_them_when_asked():
    perturbations = {"A": ["A"], "B": ["B"]}
    with pytest.raises(InputError, match=r"1 test perturbation\(s\) match no condition.*'TBX3'"):
        fixed_split(perturbations, ["A", "TBX3"])
    assert fixed_split(perturbations, ["A", "TBX3"], missing="drop")["missing"] == ["TBX3"]
    with pytest.raises(InputError, match="leaves no training condition"):
        fixed_split(perturbations, ["A", "B"])
    with pytest.raises(InputError, match="leaves no test condition"):
        fixed_split(perturbations, ["TBX3"], missing="drop")
