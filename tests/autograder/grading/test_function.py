"""Tests of autograder.grading.function: the one grading step of self-checks and the batch grader."""

from __future__ import annotations

import torch

from autograder.grading.function import grade_function
from autograder.references import load_references
from autograder.runner import CallOutcome


def _grade(outcomes: list[CallOutcome], function: str = "gram_matrix"):
    return grade_function(function, outcomes, load_references("public"), reference_set="public", sources=None)


def test_the_reference_outputs_pass_with_full_points() -> None:
    """Do the reference outputs themselves earn the function's points?"""
    expected = load_references("public")["gram_matrix"].expected
    result = _grade([CallOutcome("ok", value=value) for value in expected])
    assert (result.status, result.points, result.max_points, result.check) == ("passed", 3.0, 3.0, "public")


def test_values_the_check_cannot_judge_fail_instead_of_raising() -> None:
    """Do plain but absurd values (10**400, a list for a captured argument) fail the function only?"""
    huge = _grade([CallOutcome("ok", value=10**400)], "content_loss")
    assert huge.status == "failed" and huge.points == 0
    forged = _grade(
        [CallOutcome("ok", value=None, args={0: {"value": [1, 2], "grad": "x"}})] * 2,
        "class_visualization_update_step",
    )
    assert forged.status in ("failed", "not_implemented") and forged.points == 0


def test_the_first_failed_case_decides() -> None:
    """When a later case fails to run, is its failure the verdict (the earlier case passed)?"""
    first = load_references("public")["gram_matrix"].expected[0]
    result = _grade([CallOutcome("ok", value=first), CallOutcome("timeout", message="too slow")])
    assert result.status == "timeout" and "normalize=False" in result.message


def test_printed_output_is_kept_apart_and_capped() -> None:
    """Is what the function printed kept in `output` (its end, capped), never in the message?"""
    result = _grade([CallOutcome("ok", value=torch.zeros(1), output="debug " * 2000)] * 2)
    assert "debug" not in result.message
    assert result.output.endswith("debug") and len(result.output) <= 2000
