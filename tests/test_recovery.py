"""The interaction-recovery pipeline: its structure and its nodes on hand-built tables."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from aligned_kedro.core.errors import InputError
from aligned_kedro.core.knowledge.deduction import deduce
from aligned_kedro.pipelines import recovery
from aligned_kedro.pipelines.recovery import nodes
from aligned_kedro.pipelines.shape import PipelineShape


def by_name(pipe):
    return {n.name: n for n in pipe.nodes}


@pytest.mark.parametrize(("rounds", "replicates"), [(1, 1), (2, 3)])
def test_each_replicate_runs_the_rounds_on_its_own_corrupted_kb(rounds, replicates):
    shape = PipelineShape(rounds=rounds, recovery_replicates=replicates)
    found = by_name(recovery.create_pipeline(shape))
    for i in range(replicates):
        ns = f"recovery.replicate_{i}"
        assert "knowledge_base_table" in found[f"{ns}.remove_edges"].inputs
        for r in range(1, rounds + 1):
            for stage in ("align", "refine"):
                inputs = found[f"{ns}.round_{r}.{stage}_{r}"].inputs
                assert "knowledge_base_table" not in inputs
                assert {"round_data", "round_settings"} <= set(inputs)
        first = found[f"{ns}.round_1.align_1"].inputs
        assert f"{ns}.corrupted_kb_table" in first
        assert f"{ns}.corrupted_kb_table" in found[f"{ns}.adaptor_weights"].inputs
        assert f"{ns}.round_{rounds}.refined_kb_table" in found["recovery_report"].inputs
    assert not [name for name in found if "baseline" in name]
    uses_original = {n for n, node in found.items() if "knowledge_base_table" in node.inputs}
    removals = {f"recovery.replicate_{i}.remove_edges" for i in range(replicates)}
    assert uses_original == removals | {"recovery_report"}  # false additions: vs the original


KB = pd.DataFrame(
    [("a", "b", 1), ("a", "c", -1), ("b", "c", 1), ("c", "a", 1)],
    columns=["regulator", "target", "sign"],
)
X = pd.DataFrame([[-1, 0, 0], [0, 0, -1]], index=["ko_a", "ko_c"], columns=["a", "b", "c"])
LABELS = pd.DataFrame([[-1, -1, 0], [0, 0, -1]], index=X.index, columns=X.columns)
SPLIT = {"train": ["ko_a"], "test": ["ko_c"]}
UNIVERSE = pd.DataFrame({"gene_id": ["a", "b", "c"], "gene_name": ["aaa", "bbb", "ccc"]})
PARAMS = {"count": 2, "fraction": None, "seed": 0, "knockouts_from": "train", "protocol": "random"}
SETTINGS = SimpleNamespace(deduce=lambda kb, x: deduce(kb, x, 1))


def remove(params, replicate=0):
    return nodes.remove_edges(
        KB, X, LABELS, SPLIT, UNIVERSE, SETTINGS, {**PARAMS, **params}, replicate=replicate
    )


def test_removed_edges_come_from_regulators_knocked_out_in_the_chosen_split():
    kept, removed = remove({})
    assert set(removed["regulator"]) == {"a"} and len(kept) == 2
    _, removed = remove({"count": 1, "knockouts_from": "test"}, replicate=1)
    assert removed[["regulator", "target"]].values.tolist() == [["c", "a"]]


def test_the_responding_protocol_removes_only_edges_whose_target_responds():
    # a's knockout lowers b (a -> b responds); c does not move, so a -| c is not drawn
    _, removed = remove({"count": 1, "protocol": "responding"})
    assert removed[["regulator", "target", "sign"]].values.tolist() == [["a", "b", 1]]
    with pytest.raises(InputError, match="cannot remove 2"):
        remove({"protocol": "responding"})
    with pytest.raises(InputError, match="recovery.protocol"):
        remove({"protocol": "some"})


def test_recovery_report_counts_each_replicate_and_the_mean():
    removed = KB.iloc[:2]
    back = pd.concat([KB.iloc[[0]], KB.iloc[2:]])
    extra = pd.concat([KB, pd.DataFrame([("b", "a", -1)], columns=KB.columns)])
    summary, edges, metrics = nodes.recovery_report(UNIVERSE, KB, removed, back, removed, extra)
    assert summary["recovered"].tolist() == [1, 2, 1.5]
    assert summary["false_additions"].tolist() == [0, 1, 0.5]
    assert summary["edges"].iloc[0] == "aaa -> bbb, aaa -| ccc"
    assert edges["replicate"].tolist() == [0, 0, 1, 1]
    assert metrics["recovery.replicate_0.recovery_rate"] == 0.5
    assert metrics["recovery.mean.recovery_rate"] == 0.75
    assert metrics["recovery.replicate_1.false_additions"] == 1


def test_recovery_is_its_own_pipeline_not_part_of_aligned():
    from aligned_kedro.pipeline_registry import register_pipelines

    pipelines = register_pipelines()
    assert "recovery_report" in {n.name for n in pipelines["recovery"].nodes}
    assert "recovery_report" not in {n.name for n in pipelines["aligned"].nodes}
    assert "run_report" in {n.name for n in pipelines["aligned"].nodes}
