"""The parameter schema: every known parameter with its type, range and allowed values
(``parameter_schema.yml``), checked once when a run starts.

An unknown key is refused with the closest known one ("did you mean
training.optimiser.epochs?"), a value of the wrong type or outside its range is refused
naming the key. Each dataset of ``datasets`` is checked the same way under its own name.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from aligned_kedro.core.errors import InputError

SCHEMA_FILE = Path(__file__).with_name("parameter_schema.yml")
TYPES = {
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "str": "a string",
    "list": "a list",
    "map": "a mapping",
    "any": "anything",
}
BOUNDS = {"min": ">=", "max": "<=", "gt": ">", "lt": "<"}
PARAMETER_FILES = ("parameters*.yml", "parameters*/**/*.yml", "**/parameters*.yml")


def _is_type(value: Any, kind: str) -> bool:
    if kind == "any":
        return True
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "str":
        return isinstance(value, str)
    if kind == "list":
        return isinstance(value, list | tuple)
    return isinstance(value, Mapping)


def _type_of(value: Any) -> str:
    for kind in ("bool", "int", "float", "str", "list", "map"):
        if _is_type(value, kind):
            return kind
    return "any"


@functools.cache
def _choices(spec: Any, key: str) -> tuple[Any, ...] | None:
    """The allowed values: a list, or ``module:NAME`` of a tuple or dict in the code."""
    if spec is None or isinstance(spec, tuple):
        return spec
    module, _, name = str(spec).partition(":")
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as error:
        raise InputError(
            f"the choices of {key} name {spec!r}, which does not exist: {error}",
            source=str(SCHEMA_FILE.name),
            row=key,
        ) from None
    return tuple(found)


@dataclass(frozen=True)
class Rule:
    """What one parameter accepts."""

    key: str
    types: tuple[str, ...]
    items: str | None = None
    null: bool = False
    choices_from: Any = None
    case_insensitive: bool = False
    bounds: tuple[tuple[str, float], ...] = ()
    why: str = ""
    keys_of: str | None = None

    @classmethod
    def from_spec(cls, key: str, spec: Mapping[str, Any]) -> Rule:
        unknown = set(spec) - {"type", "items", "nullable", "choices", "case", "why", "keys_of"}
        unknown -= set(BOUNDS)
        kinds = spec.get("type", "any")
        kinds = tuple(kinds) if isinstance(kinds, list) else (kinds,)
        if unknown or not set(kinds) <= set(TYPES):
            raise InputError(
                f"bad schema entry for {key}: {dict(spec)}", source=SCHEMA_FILE.name, row=key
            )
        return cls(
            key=key,
            types=kinds,
            items=spec.get("items"),
            null=bool(spec.get("nullable", False)),
            choices_from=tuple(c) if isinstance(c := spec.get("choices"), list) else c,
            case_insensitive=spec.get("case") == "insensitive",
            bounds=tuple((name, float(spec[name])) for name in BOUNDS if name in spec),
            why=str(spec.get("why", "")),
            keys_of=spec.get("keys_of"),
        )

    @classmethod
    def from_default(cls, key: str, value: Any) -> Rule:
        """A key without a schema entry: the type of its default (any type for null)."""
        return cls(key=key, types=(_type_of(value),), null=value is None)

    @property
    def choices(self) -> tuple[Any, ...] | None:
        """The allowed values (imported when first asked for, from the code they name)."""
        return _choices(self.choices_from, self.key)

    def problems(self, name: str, value: Any) -> list[str]:
        """Why `value` is refused for the parameter called `name` (empty when accepted)."""
        if value is None:
            return [] if self.null or "any" in self.types else [f"{name} must not be null"]
        kinds = [k for k in self.types if _is_type(value, k)]
        if not kinds:
            wanted = " or ".join(TYPES[k] for k in self.types) + (" or null" if self.null else "")
            return [f"{name} must be {wanted}, got {value!r} ({type(value).__name__})"]
        if kinds[0] == "list" and self.items:
            found = []
            item_rule = replace(self, types=(self.items,), items=None, null=False)
            for i, item in enumerate(value):
                found += item_rule.problems(f"{name}[{i}]", item)
            return found
        return self._value_problems(name, value)

    def _value_problems(self, name: str, value: Any) -> list[str]:
        if self.choices is not None and not isinstance(value, list | tuple):
            allowed = self.choices
            if self.case_insensitive:
                allowed = tuple(str(c).lower() for c in allowed)
                found = str(value).lower()
            else:
                found = value
            if found not in allowed:
                close = difflib.get_close_matches(str(value), [str(c) for c in self.choices], 1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                return [f"{name} must be one of {list(self.choices)}, got {value!r}{hint}"]
        if not isinstance(value, int | float) or isinstance(value, bool):
            return []
        for bound, limit in self.bounds:
            ok = {
                "min": value >= limit,
                "max": value <= limit,
                "gt": value > limit,
                "lt": value < limit,
            }[bound]
            if not ok or math.isnan(value):
                why = f": {self.why}" if self.why else ""
                shown = int(limit) if limit.is_integer() else limit
                return [f"{name} must be {BOUNDS[bound]} {shown}, got {value!r}{why}"]
        return []


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted keys of the leaves (values that are not mappings, and empty mappings)."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def base_defaults(conf_base: Path) -> dict[str, Any]:
    """The dotted defaults of the parameter files in `conf_base` (read as plain YAML)."""
    values: dict[str, Any] = {}
    files = sorted({path for pattern in PARAMETER_FILES for path in conf_base.glob(pattern)})
    for path in files:
        loaded = yaml.safe_load(path.read_text()) or {}
        values.update(flatten(loaded))
    return values


@dataclass(frozen=True)
class Schema:
    """The rule of every known parameter key (dotted)."""

    rules: Mapping[str, Rule]

    @classmethod
    def load(cls, defaults: Mapping[str, Any] | None = None, path: Path = SCHEMA_FILE) -> Schema:
        """The schema file's rules, plus a rule from the default of every key in `defaults`
        (dotted, e.g. `base_defaults`) that the file does not list. Keys under the names
        of ``datasets`` are dataset blocks, not keys of their own."""
        specs = yaml.safe_load(path.read_text()) or {}
        rules = {key: Rule.from_spec(key, spec) for key, spec in specs.items()}
        defaults = dict(defaults or {})
        names = set(defaults.get("datasets") or [])
        for key, value in defaults.items():
            top = key.split(".", 1)[0]
            if top in names or key in rules or _under_map(key, rules):
                continue
            rules[key] = Rule.from_default(key, value)
        return cls(rules)

    @functools.cached_property
    def sections(self) -> set[str]:
        """Every dotted prefix of a known key: the keys whose value is a mapping."""
        return {key.rsplit(".", i)[0] for key in self.rules for i in range(1, key.count(".") + 1)}

    def problems(self, parameters: Mapping[str, Any]) -> list[str]:
        """Every reason to refuse `parameters` (the run's, merged), each naming its key."""
        found = self._block_problems(parameters, "", skip=_dataset_names(parameters))
        names = parameters.get("datasets") or []
        if isinstance(names, list | tuple):
            found += self._dataset_problems(parameters, names)
        return found

    def _dataset_problems(self, parameters: Mapping[str, Any], names: Iterable[Any]) -> list[str]:
        found = []
        top = {key.split(".", 1)[0] for key in self.rules}
        for name in names:
            if name in top:
                found.append(f"datasets: {name!r} is a parameter section, not a dataset name")
                continue
            block = parameters.get(name)
            if block is None:
                continue
            if not isinstance(block, Mapping):
                found.append(f"{name} (the parameters of dataset {name!r}) must be a mapping")
                continue
            found += self._block_problems(block, f"{name}.")
        return found

    def _block_problems(
        self, values: Mapping[str, Any], prefix: str, skip: Iterable[str] = ()
    ) -> list[str]:
        found = []
        sections = self.sections
        skipped = set(skip)
        for key, value in flatten({k: v for k, v in values.items() if k not in skipped}).items():
            if prefix and key == "datasets":
                found.append(f"{prefix}datasets: datasets are listed at the top level only")
                continue
            found += self._key_problems(key, value, prefix, sections)
        return found

    def _key_problems(self, key: str, value: Any, prefix: str, sections: set[str]) -> list[str]:
        name = prefix + key
        rule = self.rules.get(key)
        if rule is not None:
            return rule.problems(name, value)
        owner = _under_map(key, self.rules)
        if owner is not None:
            inner = key[len(owner.key) + 1 :]
            target = f"{owner.keys_of}.{inner}"
            if target in self.rules:
                return self.rules[target].problems(name, value)
            return [self._unknown(name, target, f"{prefix}{owner.key}.", owner.keys_of)]
        if key in sections:
            return [] if value == {} else [f"{name} must be a mapping, got {value!r}"]
        return [self._unknown(name, key, prefix)]

    def _unknown(self, name: str, key: str, prefix: str, within: str = "") -> str:
        """Refuse `name`, suggesting the known key closest to `key` (under `within`, a
        section whose keys a map takes, shown after `prefix`)."""
        known = sorted(k for k in [*self.rules, *self.sections] if k.startswith(within))
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        if not close:
            last = key.rsplit(".", 1)[-1]
            close = [k for k in known if k in self.rules and k.rsplit(".", 1)[-1] == last][:1]
        if not close:
            return f"unknown parameter {name}"
        suggestion = close[0][len(within) + 1 :] if within else close[0]
        return f"unknown parameter {name}; did you mean {prefix}{suggestion}?"


def _dataset_names(parameters: Mapping[str, Any]) -> set[str]:
    names = parameters.get("datasets") or []
    return {n for n in names if isinstance(n, str)} if isinstance(names, list | tuple) else set()


def _under_map(key: str, rules: Mapping[str, Rule]) -> Rule | None:
    """The ``map`` rule `key` lies under (``refinement_benchmark.refine.max_iter``)."""
    parts = key.split(".")
    for i in range(len(parts) - 1, 0, -1):
        rule = rules.get(".".join(parts[:i]))
        if rule is not None and rule.keys_of:
            return rule
    return None


def check_parameters(parameters: Mapping[str, Any], schema: Schema) -> None:
    """Refuse `parameters` when the schema finds a problem: one `InputError` listing
    every problem, each naming its key."""
    found = schema.problems(parameters)
    if found:
        raise InputError(
            f"{len(found)} parameter problem{'s' if len(found) > 1 else ''}: " + "; ".join(found),
            source="parameters",
        )
