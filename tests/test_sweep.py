"""scripts/sweep.py: the variants, their commands and the summary built from MLflow runs."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import mlflow
import pytest
from mlflow.entities import Metric, Param

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "sweep.py"
spec = importlib.util.spec_from_file_location("sweep", SCRIPT)
sweep = importlib.util.module_from_spec(spec)
sys.modules["sweep"] = sweep
spec.loader.exec_module(sweep)


def test_the_variants_cover_tables_2_and_3():
    names = [v.name for v in sweep.VARIANTS]
    assert names[0] == "default" and len(set(names)) == len(names)
    params = {key: value for v in sweep.VARIANTS for key, value in v.params.items()}
    assert {v.params.get("k") for v in sweep.VARIANTS} >= {0, 2, 6}
    assert {"training.adaptor.use_inc", "training.adaptor.use_len"} <= set(params)
    assert params["training.adaptor.random_kb"] is True
    by_name = {v.name: v for v in sweep.VARIANTS}
    cmd = sweep.command(by_name["no_inc"], "training.optimiser.epochs:5")
    assert cmd[1:4] == ["-m", "aligned_kedro", "--pipeline=aligned"]
    assert cmd[4] == "--params=training.adaptor.use_inc:false,training.optimiser.epochs:5"
    assert sweep.command(by_name["default"]) == cmd[:4]


def test_a_seeded_run_gets_its_seed_after_the_shared_params():
    assert sweep.run_params("data_processing.split.seed:0", 3) == (
        "data_processing.split.seed:0,seed:3"
    )
    assert sweep.run_params("", 1) == "seed:1"
    assert sweep.run_params("k:2", None) == "k:2"
    cmd = sweep.command(sweep.VARIANTS[1], sweep.run_params("", 2))
    assert cmd[-1].endswith(",seed:2")


def test_dry_run_runs_nothing(capsys, tmp_path):
    assert sweep.main(["--dry-run", "--only", "k=2", "--project", str(tmp_path)]) == 0
    assert "--params=k:2" in capsys.readouterr().out
    assert not list(tmp_path.iterdir())


def fake_run(client, experiment_id, sweep_name, variant, status, metrics, params):
    run = client.create_run(experiment_id, tags={"sweep": sweep_name, "sweep.variant": variant})
    client.log_batch(
        run.info.run_id,
        metrics=[Metric(name, value, 0, 0) for name, value in metrics.items()],
        params=[Param(name, str(value)) for name, value in params.items()],
    )
    client.set_terminated(run.info.run_id, status)


def test_sweep_table_compares_variants_from_the_mlflow_store(tmp_path):
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment_id = client.create_experiment("aligned_kedro")

    def metrics(base: float) -> dict[str, float]:
        out = {}
        for i, stage in enumerate(["baseline.neural_only", "round_1.align", "round_2.refine"]):
            out |= {f"{stage}.{m}": base + 0.1 * i for m in sweep.METRICS}
        return out

    params = {"k": 4, "refinement.rounds": 2}
    fake_run(client, experiment_id, "s1", "default", "FINISHED", metrics(0.2), params)
    fake_run(client, experiment_id, "s1", "default", "FINISHED", metrics(0.4), params)
    fake_run(client, experiment_id, "s1", "k=2", "FINISHED", metrics(0.1), {**params, "k": 2})
    fake_run(client, experiment_id, "s1", "k=2", "FAILED", metrics(0.9), {**params, "k": 2})
    fake_run(client, experiment_id, "other", "default", "FINISHED", metrics(0.9), params)

    table = sweep.sweep_table(client, "aligned_kedro", "s1")
    assert len(table) == 6
    rows = table.set_index(["variant", "stage"])
    default = rows.loc[("default", "A (round 1)")]
    assert default["n_runs"] == 2 and default["k"] == "4"
    assert default["data_f1_mean"] == pytest.approx(0.4)
    assert default["data_f1_sd"] == pytest.approx(math.sqrt(0.02))
    k2 = rows.loc[("k=2", "A-R-A-R (last refine)")]
    assert k2["n_runs"] == 1 and k2["n_unfinished"] == 1 and k2["k"] == "2"
    assert k2["balanced_f1_mean"] == pytest.approx(0.3)
    assert list(table["variant"][:2]) == ["default", "k=2"]  # variants in sweep order
    assert list(table["stage"][::2]) == ["neural-only", "A (round 1)", "A-R-A-R (last refine)"]
    with pytest.raises(SystemExit, match="no run tagged"):
        sweep.sweep_table(client, "aligned_kedro", "missing")


def test_a_run_left_running_ends_killed_for_a_signal_and_failed_otherwise():
    assert sweep.end_status(-9) == "KILLED"
    assert sweep.end_status(130) == "KILLED"
    assert sweep.end_status(1) == "FAILED"


def test_the_sweep_experiment_opens_on_its_runs(tmp_path):
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    sweep.start_run(client, "aligned_kedro", "s1", sweep.VARIANTS[0])
    experiment = client.get_experiment_by_name("aligned_kedro")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
