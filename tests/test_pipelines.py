"""The pipeline structure: rounds, namespaces and the rounds guard."""

import pytest

from aligned_kedro.pipelines import evaluation, refinement, training
from aligned_kedro.pipelines.refinement.nodes import check_rounds


def inputs_of(pipe, name):
    (found,) = [n for n in pipe.nodes if n.name == name]
    return set(found.inputs)


@pytest.mark.parametrize("rounds", [1, 2, 3])
def test_each_round_aligns_then_refines_the_previous_rounds_kb(rounds):
    pipe = training.create_pipeline() + refinement.create_pipeline(rounds=rounds)
    assert "knowledge_base_table" in inputs_of(pipe, "round_1.align")
    assert "knowledge_base_table" in inputs_of(pipe, "round_1.refine")
    for r in range(2, rounds + 1):
        align = inputs_of(pipe, f"round_{r}.align")
        assert {f"round_{r - 1}.refined_kb_table", f"round_{r - 1}.aligned_model"} <= align
        assert f"round_{r - 1}.refined_kb_table" in inputs_of(pipe, f"round_{r}.refine")
        assert f"round_{r}.aligned_model" in inputs_of(pipe, f"round_{r}.refine")
    summary = evaluation.create_pipeline(rounds=rounds)
    assert f"round_{rounds}.refine_metrics" in inputs_of(summary, "run_summary")


def test_a_run_asking_for_other_rounds_than_built_is_refused():
    check_rounds({"rounds": 2}, built=2)
    with pytest.raises(ValueError, match="parameters_refinement.yml"):
        check_rounds({"rounds": 3}, built=2)
