"""The public API resolves: every exported name is the object it promises, no function is
shadowed by a module of the same name, and every `aligned_kedro.core` name the README's
code and the architecture map use exists."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import types
from pathlib import Path

import pytest

import aligned_kedro.core

ROOT = Path(__file__).resolve().parents[2]
DOCS = {"README.md": "code blocks", "docs/ARCHITECTURE.md": "everywhere"}
CODE_BLOCK = re.compile(r"```(\w*)\n(.*?)```", re.DOTALL)
DOTTED = re.compile(r"(?<![\w.])(aligned_kedro\.core(?:\.\w+)*|(?<=`)core(?:\.\w+)+)")


def packages() -> list[types.ModuleType]:
    """aligned_kedro.core and every package below it."""
    found = [aligned_kedro.core]
    for info in pkgutil.walk_packages(aligned_kedro.core.__path__, "aligned_kedro.core."):
        if info.ispkg:
            found.append(importlib.import_module(info.name))
    return found


def submodules(package: types.ModuleType) -> set[str]:
    return {info.name for info in pkgutil.iter_modules(package.__path__)}


PACKAGES = packages()


def test_every_package_of_the_core_declares_its_public_api() -> None:
    assert len(PACKAGES) >= 5
    missing = [p.__name__ for p in PACKAGES if not hasattr(p, "__all__")]
    assert not missing, f"packages without __all__: {missing}"


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.__name__)
def test_exported_names_import_and_are_not_modules(package: types.ModuleType) -> None:
    names = list(package.__all__)
    assert len(names) == len(set(names)), f"{package.__name__}.__all__ repeats a name"
    for name in names:
        scope: dict[str, object] = {}
        exec(f"from {package.__name__} import {name}", scope)
        assert not isinstance(scope[name], types.ModuleType), (
            f"`from {package.__name__} import {name}` gives a module, not the function"
        )


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.__name__)
def test_no_public_name_is_also_a_module_of_its_package(package: types.ModuleType) -> None:
    clashes = sorted(set(package.__all__) & submodules(package))
    assert not clashes, (
        f"{package.__name__}: {clashes} name both a public object and a module; importing "
        "the module replaces the object on the package"
    )


def test_the_top_level_api_reexports_each_subpackage_api() -> None:
    top = set(aligned_kedro.core.__all__)
    for name in ("data", "knowledge", "learning", "evaluation"):
        package = importlib.import_module(f"aligned_kedro.core.{name}")
        for exported in package.__all__:
            if exported in top:
                assert getattr(aligned_kedro.core, exported) is getattr(package, exported)


def resolve(dotted: str) -> object:
    """The object a dotted ``aligned_kedro.core...`` name stands for; LookupError if none."""
    parts = dotted.split(".")
    for cut in range(len(parts), 1, -1):
        try:
            value: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(value, attribute):
                raise LookupError(f"{dotted}: {'.'.join(parts[:cut])} has no {attribute!r}")
            value = getattr(value, attribute)
        return value
    raise LookupError(f"{dotted}: no such module")


def code_problems(code: str) -> list[str]:
    """What in a Python snippet does not resolve: names imported from aligned_kedro.core...
    that do not exist, and calls of an imported name that is not callable."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    problems, imported = [], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "aligned_kedro.core"
        ):
            for alias in node.names:
                try:
                    imported[alias.asname or alias.name] = resolve(f"{node.module}.{alias.name}")
                except LookupError as error:
                    problems.append(str(error))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            value = imported.get(node.func.id)
            if node.func.id in imported and not callable(value):
                problems.append(f"{node.func.id}(...) calls a {type(value).__name__}")
    return problems


def doc_problems(text: str, where: str) -> list[str]:
    """Unresolvable core names of a Markdown document: in the Python code blocks always,
    and as dotted names anywhere when `where` is "everywhere"."""
    blocks = CODE_BLOCK.findall(text)
    problems = [p for lang, code in blocks if lang in ("python", "") for p in code_problems(code)]
    searched = text if where == "everywhere" else "\n".join(code for _, code in blocks)
    for match in DOTTED.findall(searched):
        dotted = match if match.startswith("aligned_kedro") else f"aligned_kedro.{match}"
        try:
            resolve(dotted.rstrip("."))
        except LookupError as error:
            problems.append(str(error))
    return problems


def test_the_doc_checker_catches_a_missing_or_shadowed_function() -> None:
    text = (
        "Call `aligned_kedro.core.deduce`, `core.knowledge.no_such_thing` and\n"
        "```python\nfrom aligned_kedro.core import compile_kb, not_there\n"
        "from aligned_kedro.core import data\ndata(1)\n```\n"
    )
    problems = doc_problems(text, "everywhere")
    assert any("not_there" in p for p in problems)
    assert any("no_such_thing" in p for p in problems)
    assert any("data(...) calls a module" in p for p in problems)
    assert not any("compile_kb" in p or "deduce" in p for p in problems)
    assert doc_problems("`core.knowledge.no_such_thing`", "code blocks") == []


@pytest.mark.parametrize("name", sorted(DOCS))
def test_core_names_in_the_docs_exist(name: str) -> None:
    path = ROOT / name
    if not path.exists():
        pytest.skip(f"{name} not written yet")
    problems = doc_problems(path.read_text(encoding="utf-8"), DOCS[name])
    assert not problems, f"{name} names what the core does not have: {problems}"


DOCUMENTED = ("data", "learning", "evaluation")
UNDOCUMENTED_YET = {"evaluation.noise_sweep", "evaluation.summarise_sweep"}


def documented_names() -> list:
    names = []
    for package in DOCUMENTED:
        module = importlib.import_module(f"aligned_kedro.core.{package}")
        for name in module.__all__:
            key = f"{package}.{name}"
            marks = [pytest.mark.xfail(strict=True)] if key in UNDOCUMENTED_YET else []
            names.append(pytest.param(getattr(module, name), id=key, marks=marks))
    return names


@pytest.mark.parametrize("value", documented_names())
def test_public_api_has_numpydoc_parameters_and_returns(value: object) -> None:
    doc = inspect.getdoc(value) or ""
    assert "Parameters\n----------" in doc or "Attributes\n----------" in doc
    if not inspect.isclass(value):
        assert "Returns\n-------" in doc
        assert "shape" in doc or not re.search(r"\b(X|Y|y|x)\b", str(inspect.signature(value)))
