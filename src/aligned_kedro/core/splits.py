"""Seeded train/test splits of perturbation conditions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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
    at most n - 1) go to test. Both lists keep the input order."""
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
