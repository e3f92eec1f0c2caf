"""The parameter schema: every known key has a rule, and a run refuses unknown keys (with
the closest known one), wrong types and meaningless values, naming the key."""

from __future__ import annotations

import copy
from pathlib import Path

import mlflow
import pytest
import yaml
from conftest import project_copy
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from aligned_kedro.core.errors import InputError
from aligned_kedro.pipeline_registry import project_parameters
from aligned_kedro.runs import LEDGER
from aligned_kedro.schema import SCHEMA_FILE, Rule, Schema, base_defaults, check_parameters

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "conf" / "base"


@pytest.fixture(scope="module")
def schema() -> Schema:
    return Schema.load(base_defaults(BASE))


@pytest.fixture
def parameters() -> dict:
    return copy.deepcopy(project_parameters(ROOT))


def test_every_parameter_of_conf_base_has_a_rule_and_every_rule_a_parameter():
    specs = yaml.safe_load(SCHEMA_FILE.read_text())
    maps = {key for key, spec in specs.items() if "keys_of" in spec}
    defaults = base_defaults(BASE)
    missing = [k for k in defaults if k not in specs and not k.startswith(tuple(maps))]
    assert not missing, f"add these keys to {SCHEMA_FILE.name}: {missing}"
    stale = [k for k in specs if k not in defaults and k not in maps]
    assert not stale, f"{SCHEMA_FILE.name} lists keys no parameters file has: {stale}"


def test_every_rule_resolves_and_the_defaults_pass(schema: Schema, parameters: dict):
    for rule in schema.rules.values():
        assert rule.choices is None or len(rule.choices) > 0, rule.key
    assert schema.problems(parameters) == []


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("training.optimizer.epochs", 1, "unknown parameter training.optimizer.epochs; "
         "did you mean training.optimiser.epochs?"),
        ("foo", 1, "unknown parameter foo"),
        ("epochs", 3, "unknown parameter epochs; did you mean training.optimiser.epochs?"),
        ("seed", "abc", "seed must be an integer, got 'abc'"),
        ("training.optimiser.lr", "abc", "training.optimiser.lr must be a number, got 'abc'"),
        ("data_processing.validation.min_kb_genes", "abc",
         "data_processing.validation.min_kb_genes must be an integer, got 'abc'"),
        ("training.optimiser.epochs", 0, "training.optimiser.epochs must be >= 1, got 0: "
         "0 epochs train nothing"),
        ("data_processing.split.test_fraction", 1.0, "test_fraction must be < 1, got 1.0"),
        ("knowledge_base.variant", "Integer", "must be one of ['integer', 'boolean'], got "
         "'Integer'; did you mean 'integer'?"),
        ("training.adaptor.use_inc", "false", "use_inc must be true or false, got 'false'"),
        ("k", None, "k must not be null"),
        ("refinement_benchmark.refine.tol", -1, "refinement_benchmark.refine.tol must be >= 0"),
        ("refinement_benchmark.refine.max_iterations", 5,
         "unknown parameter refinement_benchmark.refine.max_iterations; did you mean "
         "refinement_benchmark.refine.max_iter?"),
        ("training.model", 3, "training.model must be a mapping, got 3"),
        ("data_processing.edges.dorothea_levels", ["A", "F"], "dorothea_levels[1] must be one"),
    ],
)  # fmt: skip
def test_a_bad_parameter_is_refused_naming_its_key(
    schema: Schema, parameters: dict, path: str, value, message: str
):
    *sections, last = path.split(".")
    target = parameters
    for key in sections:
        target = target.setdefault(key, {})
    target[last] = value
    with pytest.raises(InputError, match="parameter problem") as refused:
        check_parameters(parameters, schema)
    assert message in str(refused.value)


def test_values_in_range_and_case_insensitive_choices_pass(schema: Schema, parameters: dict):
    parameters["data_processing"]["cells"]["perturbation_type"] = "crispra"
    parameters["training"]["optimiser"]["epochs"] = 1
    parameters["refinement"]["lam"] = None
    parameters["refinement_benchmark"]["refine"]["tol"] = 0.01
    assert schema.problems(parameters) == []


def test_each_dataset_is_checked_under_its_own_name(schema: Schema, parameters: dict):
    parameters["datasets"] = ["norman", "training"]
    parameters["norman"] = {
        "k": 2,
        "trainig": {"model": {"hidden": 8}},
        "data_processing": {"split": {"test_fraction": 2}},
        "datasets": ["x"],
    }
    found = schema.problems(parameters)
    assert "unknown parameter norman.trainig.model.hidden; did you mean " in found[0]
    assert "norman.data_processing.split.test_fraction must be < 1, got 2" in found
    assert "norman.datasets: datasets are listed at the top level only" in found
    assert "datasets: 'training' is a parameter section, not a dataset name" in found
    assert len(found) == 4


def test_a_key_without_a_rule_takes_the_type_of_its_default():
    rule = Rule.from_default("new.count", 3)
    assert rule.problems("new.count", 4) == []
    assert rule.problems("new.count", "x") == ["new.count must be an integer, got 'x' (str)"]
    assert Rule.from_default("new.name", None).problems("new.name", "x") == []


@pytest.mark.parametrize("pipeline", ["validate", "aligned"])
def test_validate_and_aligned_refuse_a_bad_parameter_before_anything_runs(
    tmp_path: Path, pipeline: str
):
    project = project_copy(tmp_path)
    while mlflow.active_run():
        mlflow.end_run()
    bad = {"training": {"optimizer": {"epochs": 1}}, "seed": "abc"}
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(project)
        bootstrap_project(project)
        with (
            KedroSession.create(project_path=project, runtime_params=bad) as session,
            pytest.raises(InputError, match="2 parameter problems") as refused,
        ):
            session.run(pipeline_names=[pipeline])
    assert "did you mean training.optimiser.epochs?" in str(refused.value)
    assert "seed must be an integer" in str(refused.value)
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("aligned_kedro")
    assert client.search_runs([experiment.experiment_id]) == []
    assert not (project / LEDGER).exists() and not (project / "data").exists()
