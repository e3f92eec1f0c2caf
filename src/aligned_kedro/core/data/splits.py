"""Seeded train/test splits of perturbation conditions, by strategy (`split_conditions`),
and which strategies a dataset supports (`strategy_support`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from aligned_kedro.core.errors import InputError

DEFAULT_SOURCE = "conditions"


def _check_fraction(test_fraction: float, source: str) -> None:
    if not 0 < test_fraction < 1:
        raise InputError(f"test_fraction must lie in (0, 1), got {test_fraction}", source=source)


def _check_unique(conditions: Sequence[str], source: str) -> None:
    seen: set[str] = set()
    for condition in conditions:
        if condition in seen:
            raise InputError(f"duplicate condition {condition!r}", source=source, row=condition)
        seen.add(condition)


def _test_size(n: int, test_fraction: float) -> int:
    return min(max(int(round(test_fraction * n)), 1), n - 1)


def random_split(
    conditions: Sequence[str],
    *,
    test_fraction: float,
    seed: int,
    source: str = DEFAULT_SOURCE,
) -> dict[str, list[str]]:
    """Shuffle conditions with the seed; the first round(test_fraction * n) (at least one,
    at most n - 1) go to test. Both lists keep the input order.

    Parameters
    ----------
    conditions : sequence of str
        The n condition names, unique.
    test_fraction : float
        In (0, 1).
    seed : int
    source : str
        Named in errors.

    Returns
    -------
    dict
        ``train`` and ``test``: lists of condition names.
    """
    _check_fraction(test_fraction, source)
    conditions = [str(c) for c in conditions]
    _check_unique(conditions, source)
    n = len(conditions)
    if n < 2:
        raise InputError(
            f"cannot split {n} condition(s): train and test each need at least one",
            source=source,
        )
    order = np.random.default_rng(seed).permutation(n)
    test = set(order[: _test_size(n, test_fraction)].tolist())
    return {
        "train": [c for i, c in enumerate(conditions) if i not in test],
        "test": [c for i, c in enumerate(conditions) if i in test],
    }


def perturbation_groups(perturbations: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Connected components of conditions linked by a shared perturbed gene (union-find).

    Conditions are sorted within a group and groups by their first member, so the result
    does not depend on the mapping's order.
    """
    conditions = sorted(str(c) for c in perturbations)
    parent = {c: c for c in conditions}

    def find(c: str) -> str:
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    first_with_gene: dict[str, str] = {}
    for condition in conditions:
        for gene in perturbations[condition]:
            other = first_with_gene.setdefault(str(gene), condition)
            root_a, root_b = find(condition), find(other)
            if root_a != root_b:
                parent[max(root_a, root_b)] = min(root_a, root_b)
    groups: dict[str, list[str]] = {}
    for condition in conditions:
        groups.setdefault(find(condition), []).append(condition)
    return sorted(groups.values(), key=lambda group: group[0])


def group_folds(
    perturbations: Mapping[str, Sequence[str]],
    n_folds: int,
    seed: int,
    *,
    source: str = DEFAULT_SOURCE,
) -> list[list[str]]:
    """`n_folds` disjoint parts of the conditions with no perturbed gene in two parts.

    The groups of `perturbation_groups` are shuffled with the seed and each joins the part
    with the fewest conditions so far, so every part is an unseen-perturbation hold-out of
    the rest. Fewer groups than folds raises InputError.

    Parameters
    ----------
    perturbations : mapping of str to sequence of str
        Condition -> its perturbed genes.
    n_folds : int
        At least 2.
    seed : int
    source : str
        Named in errors.

    Returns
    -------
    list of list of str
        `n_folds` sorted lists of conditions.
    """
    groups = perturbation_groups(perturbations)
    if n_folds < 2 or len(groups) < n_folds:
        raise InputError(
            f"cannot make {n_folds} folds from {len(groups)} group(s) of conditions sharing "
            "perturbed genes; need at least 2 folds and one group per fold",
            source=source,
        )
    folds: list[list[str]] = [[] for _ in range(n_folds)]
    for index in np.random.default_rng(seed).permutation(len(groups)).tolist():
        smallest = min(range(n_folds), key=lambda f: len(folds[f]))
        folds[smallest].extend(groups[index])
    return [sorted(fold) for fold in folds]


def unseen_perturbation_split(
    perturbations: Mapping[str, Sequence[str]],
    *,
    test_fraction: float,
    seed: int,
    source: str = DEFAULT_SOURCE,
) -> dict[str, list[str]]:
    """Split so that no gene perturbed in a test condition is perturbed in a train one.

    Groups of conditions sharing perturbed genes (`perturbation_groups`) are shuffled with
    the seed; a group joins test while test stays within round(test_fraction * n)
    conditions (at least one, at most n - 1). Lists are sorted. An empty split raises
    InputError.

    Parameters
    ----------
    perturbations : mapping of str to sequence of str
        Condition -> its perturbed genes.
    test_fraction : float
        In (0, 1).
    seed : int
    source : str
        Named in errors.

    Returns
    -------
    dict
        ``train`` and ``test``: sorted lists of condition names.
    """
    _check_fraction(test_fraction, source)
    keys = [str(c) for c in perturbations]
    _check_unique(keys, source)
    n = len(keys)
    groups = perturbation_groups(perturbations)
    if n < 2 or len(groups) < 2:
        raise InputError(
            f"cannot split {n} condition(s) in {len(groups)} group(s) of shared perturbed "
            "genes: the train or test split would be empty (too few groups)",
            source=source,
        )
    target = _test_size(n, test_fraction)
    test: list[str] = []
    for index in np.random.default_rng(seed).permutation(len(groups)).tolist():
        if len(test) + len(groups[index]) <= target:
            test.extend(groups[index])
        if len(test) == target:
            break
    if not test:
        sizes = sorted(len(group) for group in groups)
        raise InputError(
            f"test split is empty: every group of conditions sharing perturbed genes is larger "
            f"than the test target of {target} condition(s) (group sizes {sizes}); raise "
            "test_fraction or use random_split",
            source=source,
        )
    in_test = set(test)
    return {
        "train": sorted(c for c in keys if c not in in_test),
        "test": sorted(in_test),
    }


COMBO_SUBSETS: tuple[str, ...] = ("unseen_single", "combo_seen0", "combo_seen1", "combo_seen2")


def combo_split(
    perturbations: Mapping[str, Sequence[str]],
    *,
    test_fraction: float,
    seed: int,
    combo_seen2_fraction: float | None = None,
    source: str = DEFAULT_SOURCE,
) -> dict[str, list[str]]:
    """GEARS-style split of single and double perturbations (Roohani et al. 2024).

    A seeded ``test_fraction`` of the genes that have a single-gene condition are unseen:
    their singles form ``unseen_single``. Doubles are grouped by how many of their genes
    have their single in training: ``combo_seen0`` and ``combo_seen1`` hold the doubles
    with two or one unseen gene; ``combo_seen2`` is a seeded ``combo_seen2_fraction``
    (default ``test_fraction``) of the doubles of two seen genes. ``train`` is the rest;
    ``test`` the union of the four subsets. Lists are sorted; conditions of three or more
    genes stay in training unless they touch an unseen gene, then they are ``held_out``.

    Parameters
    ----------
    perturbations : mapping of str to sequence of str
        Condition -> its perturbed genes (one or two; more stay in training).
    test_fraction : float
        In (0, 1): the share of single genes held out.
    seed : int
    combo_seen2_fraction : float, optional
        The share of doubles of two seen genes held out.
    source : str
        Named in errors.

    Returns
    -------
    dict
        ``train``, ``test``, ``unseen_single``, ``combo_seen0``, ``combo_seen1``,
        ``combo_seen2``, ``held_out`` (sorted condition names) and ``unseen_genes``.
    """
    _check_fraction(test_fraction, source)
    keys = [str(c) for c in perturbations]
    _check_unique(keys, source)
    genes = {str(c): tuple(dict.fromkeys(map(str, g))) for c, g in perturbations.items()}
    singles = sorted({g[0] for g in genes.values() if len(g) == 1})
    if len(singles) < 2:
        raise InputError(
            f"a combo split needs single-gene conditions of at least two genes, found "
            f"{len(singles)}",
            source=source,
        )
    rng = np.random.default_rng(seed)
    unseen = set(rng.permutation(singles)[: _test_size(len(singles), test_fraction)].tolist())
    subsets: dict[str, list[str]] = {name: [] for name in (*COMBO_SUBSETS, "held_out")}
    seen2: list[str] = []
    train: list[str] = []
    for condition in sorted(keys):
        members = genes[condition]
        n_unseen = sum(g in unseen for g in members)
        if len(members) == 1:
            (subsets["unseen_single"] if n_unseen else train).append(condition)
        elif len(members) == 2:
            if n_unseen:
                subsets[f"combo_seen{2 - n_unseen}"].append(condition)
            else:
                seen2.append(condition)
        else:
            (subsets["held_out"] if n_unseen else train).append(condition)
    fraction = test_fraction if combo_seen2_fraction is None else combo_seen2_fraction
    trained_singles = {genes[c][0] for c in train if len(genes[c]) == 1}
    both_seen = [c for c in seen2 if all(g in trained_singles for g in genes[c])]
    n_seen2 = int(round(fraction * len(both_seen)))
    picked = set(rng.permutation(both_seen)[:n_seen2].tolist()) if n_seen2 else set()
    subsets["combo_seen2"] = sorted(picked)
    train = sorted(train + [c for c in seen2 if c not in picked])
    # a double counts its genes seen only through singles in training
    for name in ("combo_seen0", "combo_seen1"):
        for condition in list(subsets[name]):
            n_seen = sum(g in trained_singles for g in genes[condition])
            if n_seen != int(name[-1]):
                subsets[name].remove(condition)
                subsets[f"combo_seen{n_seen}"].append(condition)
    subsets = {name: sorted(values) for name, values in subsets.items()}
    test = sorted(c for name in COMBO_SUBSETS for c in subsets[name])
    return {"train": train, "test": test, **subsets, "unseen_genes": sorted(unseen)}


def fixed_split(
    perturbations: Mapping[str, Sequence[str]],
    test: Sequence[str],
    *,
    names: Mapping[str, str] | None = None,
    missing: str = "error",
    source: str = DEFAULT_SOURCE,
) -> dict[str, list[str]]:
    """A given list of test perturbations (e.g. paper table 5), written as gene names
    joined by ``+`` (``"UBASH3B + OSR2"``); order and case do not matter, and ``names``
    maps gene IDs to names. Entries matching no condition raise, or are dropped and
    counted with ``missing: drop``. Repeated entries count once.

    Parameters
    ----------
    perturbations : mapping of str to sequence of str
        Condition -> its perturbed gene IDs.
    test : sequence of str
        The test perturbations, genes joined by ``+``.
    names : mapping of str to str, optional
        Gene ID -> gene name, so names match too.
    missing : {"error", "drop"}
        What an entry matching no condition does.
    source : str
        Named in errors.

    Returns
    -------
    dict
        ``train`` and ``test`` (sorted condition names) and ``missing`` (entries that
        matched nothing).
    """

    def key(members: Sequence[str]) -> frozenset[str]:
        return frozenset(str(m).strip().lower() for m in members)

    by_key: dict[frozenset[str], list[str]] = {}
    for condition, members in perturbations.items():
        shown = [names.get(g, g) if names else g for g in members]
        by_key.setdefault(key(shown), []).append(str(condition))
        by_key.setdefault(key(members), []).append(str(condition))
    chosen: set[str] = set()
    absent = []
    for entry in dict.fromkeys(test):
        found = by_key.get(key(str(entry).split("+")))
        if found is None:
            absent.append(entry)
        else:
            chosen.update(found)
    if absent and missing == "error":
        raise InputError(
            f"{len(absent)} test perturbation(s) match no condition: {absent}",
            source=source,
            column="test",
            gene=str(absent[0]),
        )
    if not chosen or len(chosen) == len(perturbations):
        raise InputError(
            f"the fixed test list leaves {'no test' if not chosen else 'no training'} condition",
            source=source,
            column="test",
        )
    return {
        "train": sorted(c for c in map(str, perturbations) if c not in chosen),
        "test": sorted(chosen),
        "missing": [str(a) for a in absent],
    }


SPLIT_STRATEGIES: tuple[str, ...] = (
    "none",
    "random",
    "unseen_perturbation",
    "combo",
    *COMBO_SUBSETS,
    "fixed",
)


def split_conditions(
    perturbations: Mapping[str, Sequence[str]],
    *,
    strategy: str,
    test_fraction: float = 0.25,
    seed: int = 0,
    test: Sequence[str] = (),
    names: Mapping[str, str] | None = None,
    missing_test: str = "error",
    combo_seen2_fraction: float | None = None,
    source: str = DEFAULT_SOURCE,
) -> dict[str, Any]:
    """The split named by `strategy`; ``train`` and ``test`` are what later stages use.

    ``none`` trains on every condition and tests on none (a one-experiment dataset: no
    test metrics); ``random``, ``unseen_perturbation``, ``fixed`` (the `test` list) and
    ``combo`` as their functions; ``unseen_single`` and ``combo_seen0/1/2`` test on one
    subset of `combo_split` and hold the other subsets out (``held_out``). An unknown
    strategy raises InputError naming ``data_processing.split.strategy``.

    Parameters
    ----------
    perturbations : mapping of str to sequence of str
        Condition -> its perturbed gene IDs.
    strategy : str
        One of `SPLIT_STRATEGIES`.
    test_fraction, seed, combo_seen2_fraction
        As in the strategy's function.
    test, names, missing_test
        ``fixed``: the test perturbations, gene ID -> name, and what an entry matching no
        condition does (`fixed_split`'s ``missing``).
    source : str
        Named in errors.

    Returns
    -------
    dict
        ``strategy``, ``seed``, ``test_fraction``, ``train`` and ``test`` (condition
        names), and the strategy's own entries (``held_out``, ``missing``, ...).
    """
    result: dict[str, Any] = {"strategy": strategy, "seed": seed, "test_fraction": test_fraction}
    if strategy == "none":
        result.update({"train": sorted(map(str, perturbations)), "test": []})
    elif strategy == "random":
        result.update(random_split(list(perturbations), test_fraction=test_fraction, seed=seed))
    elif strategy == "unseen_perturbation":
        result.update(
            unseen_perturbation_split(perturbations, test_fraction=test_fraction, seed=seed)
        )
    elif strategy == "combo" or strategy in COMBO_SUBSETS:
        combo = combo_split(
            perturbations,
            test_fraction=test_fraction,
            seed=seed,
            combo_seen2_fraction=combo_seen2_fraction,
            source=source,
        )
        result.update(combo)
        if strategy != "combo":
            result["test"] = combo[strategy]
            others = [c for s in COMBO_SUBSETS if s != strategy for c in combo[s]]
            result["held_out"] = sorted(combo["held_out"] + others)
    elif strategy == "fixed":
        result.update(
            fixed_split(perturbations, test, names=names, missing=missing_test, source=source)
        )
    else:
        raise InputError(
            f"unknown split strategy {strategy!r}; expected one of {list(SPLIT_STRATEGIES)}",
            source="parameters",
            column="data_processing.split.strategy",
        )
    return result


def strategy_support(
    perturbations: Mapping[str, Sequence[str]], **options: Any
) -> dict[str, str | None]:
    """Per strategy of `SPLIT_STRATEGIES`, None where `split_conditions` can split these
    conditions with `options`, else the reason it refuses them: which strategies a
    dataset supports, before any training.

    Parameters
    ----------
    perturbations : mapping of str to sequence of str
        Condition -> its perturbed gene IDs.
    **options
        `split_conditions`' keyword arguments other than `strategy`.

    Returns
    -------
    dict of str to str or None
    """
    support: dict[str, str | None] = {}
    for strategy in SPLIT_STRATEGIES:
        try:
            split = split_conditions(perturbations, strategy=strategy, **options)
        except InputError as error:
            support[strategy] = error.message
            continue
        parts = ("train",) if strategy == "none" else ("train", "test")
        empty = [part for part in parts if not split[part]]
        support[strategy] = f"the {empty[0]} split is empty" if empty else None
    return support


GROUPED_PARTS: tuple[str, ...] = ("train", "test", "held_out", *COMBO_SUBSETS)


def expand_groups(
    split: Mapping[str, Any], members: Mapping[str, Sequence[str]], *, source: str = DEFAULT_SOURCE
) -> dict[str, Any]:
    """A split of conditions as a split of their rows (per-cell labels): each condition's
    rows all go where the condition went, so no condition is on both sides. The condition
    lists stay under ``conditions``; other entries (``unseen_genes``, ``missing``) are kept.
    """
    result = dict(split)
    result["conditions"] = {part: list(split[part]) for part in GROUPED_PARTS if part in split}
    placed: dict[str, str] = {}
    for part, conditions in result["conditions"].items():
        rows = []
        for condition in conditions:
            if condition not in members:
                raise InputError(
                    f"condition {condition!r} of the {part} split has no rows",
                    source=source,
                    row=condition,
                )
            if part in ("train", "test") and placed.setdefault(condition, part) != part:
                raise InputError(
                    f"condition {condition!r} is in both train and test",
                    source=source,
                    row=condition,
                )
            rows.extend(map(str, members[condition]))
        result[part] = rows
    return result
