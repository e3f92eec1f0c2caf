"""A one-experiment bulk dataset (3 knockout vs 3 wild-type samples, written here) next to
the E. coli slice: ``split.strategy: none`` trains on its one condition and reports;
another strategy fails its validation in one line naming the dataset, after writing its
report, and does not stop the other dataset."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import kedro_run, project_copy, write_slice

FAST = "training.optimiser.epochs:3,refinement.max_iter:2"
N_GENES = 30
# TFA (G0) activates G1..G6, represses G7..G9; G1 activates G10..G12; G20 is never perturbed
EDGES = (
    [("TFA", f"G{t}", 1.0) for t in range(1, 7)]
    + [("TFA", f"G{t}", -1.0) for t in range(7, 10)]
    + [("G1", f"G{t}", 1.0) for t in range(10, 13)]
    + [("G20", f"G{t}", 1.0) for t in range(21, 24)]
)
KNOCKOUT = {0: -4.0, **dict.fromkeys(range(1, 7), -2.0), **dict.fromkeys(range(7, 10), 2.0)}
KNOCKOUT.update(dict.fromkeys(range(10, 13), -1.5))


def expression(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    base = rng.uniform(6, 10, N_GENES)
    effect = np.array([KNOCKOUT.get(g, 0.0) for g in range(N_GENES)])
    samples = {f"wt_{r}": base + rng.normal(0, 0.1, N_GENES) for r in (1, 2, 3)}
    samples |= {f"ko_{r}": base + effect + rng.normal(0, 0.1, N_GENES) for r in (1, 2, 3)}
    return pd.DataFrame(samples, index=pd.Index([f"g{i}" for i in range(N_GENES)], name="gene"))


def design() -> pd.DataFrame:
    rows = [(f"wt_{r}", "wt", "control", "", "", "wt") for r in (1, 2, 3)]
    rows += [(f"ko_{r}", "tfa_ko", "perturbed", "TFA", "KO", "wt") for r in (1, 2, 3)]
    columns = ["sample_id", "condition", "role", "perturbation", "perturbation_type"]
    return pd.DataFrame(rows, columns=[*columns, "control_group"])


def genes() -> pd.DataFrame:
    names = ["TFA", *[f"G{i}" for i in range(1, N_GENES)]]
    return pd.DataFrame(
        {"gene_id": [f"g{i}" for i in range(N_GENES)], "gene_name": names, "go_count": 0}
    )


CATALOG = """
single.raw_expression:
  type: pandas.CSVDataset
  filepath: data/01_raw/single/expression.csv
  load_args: {index_col: 0}
single.raw_design:
  type: pandas.CSVDataset
  filepath: data/01_raw/single/design.csv
  load_args: {keep_default_na: false}
single.raw_genes:
  type: pandas.CSVDataset
  filepath: data/01_raw/single/genes.csv
single.raw_edges:
  type: pandas.CSVDataset
  filepath: data/01_raw/single/collectri.csv
single.raw_synonyms:
  type: kedro.io.MemoryDataset
  data: {}
"single.{name}_metrics":
  type: aligned_kedro.datasets.MetricsDataset
  filepath: data/08_reporting/metrics/single.{name}.json
  prefix: single
  versioned: true
"""


def write_project(path: Path, strategy: str) -> Path:
    path = project_copy(path)
    write_slice(path / "data" / "01_raw" / "ecoli")
    raw = path / "data" / "01_raw" / "single"
    raw.mkdir(parents=True)
    expression().to_csv(raw / "expression.csv")
    design().to_csv(raw / "design.csv", index=False)
    genes().to_csv(raw / "genes.csv", index=False)
    pd.DataFrame(EDGES, columns=["source", "target", "weight"]).to_csv(
        raw / "collectri.csv", index=False
    )
    conf = path / "conf" / "base"
    (conf / "catalog_single.yml").write_text(textwrap.dedent(CATALOG))
    (conf / "parameters_single.yml").write_text(
        textwrap.dedent(
            f"""
            single:
              data_processing:
                edges: {{format: collectri}}
                split: {{strategy: {strategy}}}
            """
        )
    )
    shared = conf / "parameters.yml"
    shared.write_text(shared.read_text().replace("datasets: []", "datasets: [single]"))
    return path


def latest(path: Path) -> Path:
    return sorted(path.iterdir())[-1] / path.name


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = write_project(tmp_path_factory.mktemp("single"), "none")
    result = kedro_run(project, "--pipeline=aligned", "--namespaces=single", f"--params=k:2,{FAST}")
    assert result.exit_code == 0, result.output
    return project


def test_one_knockout_trains_on_its_condition_without_test_metrics(single: Path):
    reporting = single / "data" / "08_reporting"
    split_file = latest(single / "data" / "05_model_input" / "single.conditions.json")
    split = json.loads(split_file.read_text())
    assert split["train"] == ["tfa_ko"] and split["test"] == []
    checks = pd.read_csv(latest(reporting / "single.validation.csv")).set_index("check")
    assert checks.loc["split.test", "status"] == "warn"
    assert "test metrics are not computed" in checks.loc["split.test", "detail"]
    assert "none" in checks.loc["split.supported", "detail"]
    assert "unseen_perturbation" not in checks.loc["split.supported", "detail"]
    assert checks.loc["knockdown.escaped", "value"] == 0
    metrics = json.loads(latest(reporting / "metrics" / "single.adaptor_weights.json").read_text())
    assert metrics["training.prior_fallback_e3"] == 1.0
    refine = json.loads(latest(reporting / "metrics" / "single.round_2.refine.json").read_text())
    assert "round_2.refine.edges_added" in refine
    assert not any(name.endswith("balanced_f1") for name in refine)


def test_the_one_experiment_report_says_there_is_no_test_split(single: Path):
    html = (single / "data" / "08_reporting" / "single" / "report.html").read_text()
    assert "no test split" in html.lower()
    assert html.index('<h2 id="data">') < html.index('<h2 id="refined-grn')
    parameters = html[html.index('id="parameters"') :]
    assert "<td>data_processing.split.strategy</td>\n      <td>'none'</td>" in parameters
    assert "single.data_processing" not in parameters and "<td>datasets" not in parameters


def test_its_knockout_goes_down_and_the_kb_targets_move_the_kb_way(single: Path):
    reporting = single / "data" / "08_reporting"
    efficiency = pd.read_csv(latest(reporting / "single.knockdown_efficiency.csv"))
    (row,) = efficiency.itertuples()
    assert (row.condition, row.gene, row.status) == ("tfa_ko", "g0", "ok")
    assert row.log2fc == pytest.approx(-4.0, abs=0.3)
    agreement = pd.read_csv(latest(reporting / "single.sign_agreement.csv")).set_index("gene")
    assert agreement.loc["g0", "n_direct_targets"] == 9
    assert agreement.loc["g0", "share_agreeing"] == 1.0


@pytest.fixture(scope="module")
def refused(tmp_path_factory: pytest.TempPathFactory):
    """The same dataset with the default unseen-perturbation split, validated with the
    E. coli slice: ``kedro run --pipeline=validate`` runs each dataset on its own."""
    project = write_project(tmp_path_factory.mktemp("refused"), "unseen_perturbation")
    return project, kedro_run(project, "--pipeline=validate")


def test_an_unsupported_split_fails_in_one_line_naming_the_dataset(refused):
    project, result = refused
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    (line,) = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert line.startswith("Error: dataset 'single': validation failed, split.strategy:")
    assert "supports ['none']" in line and "strategy none" in line
    assert "datasets finished: ['default']; failed: ['single']" in result.output


def test_a_failed_validation_writes_its_report_and_the_other_dataset_runs(refused):
    project, _ = refused
    reporting = project / "data" / "08_reporting"
    # a failed run's outputs are set aside, never "latest": data/.incomplete/<version>/
    assert not (reporting / "single.validation.csv").exists()
    (found,) = (project / "data" / ".incomplete").rglob("single.validation.csv/*/*.csv")
    report = pd.read_csv(found)
    assert report["status"].iloc[0] == "error"
    checks = report.set_index("check")
    assert checks.loc["split.strategy", "status"] == "error"
    assert checks.loc["split.strategy", "column"] == "data_processing.split.strategy"
    default = pd.read_csv(latest(reporting / "validation.csv"))
    assert not default["status"].eq("error").any()
    assert not (project / "data" / "05_model_input" / "single.conditions.json").exists()


def test_verbose_shows_the_traceback(refused):
    project, _ = refused
    result = kedro_run(project, "--pipeline=validate", "--namespaces=single", "--verbose")
    assert result.exit_code == 1
    assert "Traceback" in result.output and "Error: dataset 'single'" in result.output
