"""Shared fixtures: a throw-away copy of the project on a small slice of the bundled data."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from click.testing import CliRunner, Result
from kedro.framework.startup import bootstrap_project

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "data" / "01_raw" / "ecoli"
SLICE_PROJECTS = ("oxidative", "ytf", "fur")


def write_slice(raw: Path) -> None:
    """Knockouts of three projects with their controls: 16 conditions, all genes."""
    raw.mkdir(parents=True)
    design = pd.read_csv(RAW / "design.tsv", sep="\t", keep_default_na=False)
    design = design[design["condition"].str.split("__").str[0].isin(SLICE_PROJECTS)]
    design.to_csv(raw / "design.tsv", sep="\t", index=False)
    expression = pd.read_parquet(RAW / "expression.parquet")
    expression[design["sample_id"]].to_parquet(raw / "expression.parquet")
    for name in ("genes.tsv", "trn.tsv.gz", "regulator_synonyms.tsv", "samples.tsv"):
        shutil.copy(RAW / name, raw / name)


def project_copy(path: Path) -> Path:
    """The repository's pyproject, telemetry consent and conf in `path`; no data."""
    shutil.copy(ROOT / "pyproject.toml", path / "pyproject.toml")
    shutil.copy(ROOT / ".telemetry", path / ".telemetry")
    shutil.copytree(ROOT / "conf", path / "conf")
    (path / "src").mkdir()  # the package itself is installed
    return path


def add_dataset(path: Path, name: str, catalog: str, parameters: str) -> Path:
    """A dataset added as the README says: its catalog and parameter files, and its name in
    ``datasets``."""
    conf = path / "conf" / "base"
    (conf / f"catalog_{name}.yml").write_text(textwrap.dedent(catalog))
    (conf / f"parameters_{name}.yml").write_text(textwrap.dedent(parameters))
    shared = conf / "parameters.yml"
    shared.write_text(shared.read_text().replace("datasets: []", f"datasets: [{name}]"))
    return path


def kedro_run(path: Path, *args: str) -> Result:
    """``kedro run <args>`` in the project at `path`, through the project's CLI."""
    from aligned_kedro.cli import cli

    while mlflow.active_run():
        mlflow.end_run()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(path)
        bootstrap_project(path)
        return CliRunner().invoke(cli, ["run", *args], catch_exceptions=False)


def latest(path: Path) -> Path:
    """The file of the one saved version of a versioned dataset folder."""
    (version,) = sorted(p.name for p in path.iterdir())
    return path / version / path.name


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project directory with the repository's conf and a slice of the E. coli data."""
    path = project_copy(tmp_path_factory.mktemp("project"))
    write_slice(path / "data" / "01_raw" / "ecoli")
    return path
