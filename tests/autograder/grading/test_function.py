"""Tests of autograder.grading.function: the one grading step of self-checks and the batch grader."""

from __future__ import annotations

import torch

from autograder.grading.function import grade_function
from autograder.references import load_references
from autograder.runner import CallOutcome


def _grade(outcome: CallOutcome, function: str = "gram_matrix"):
    return grade_function(
        function, outcome, load_references("public"), reference_set="public", model=None, source=None
    )


def test_the_reference_output_passes_with_full_points() -> None:
    """Does the reference output itself earn the function's points?"""
    refs = load_references("public")
    result = _grade(CallOutcome("ok", value=refs.expected("gram_matrix")))
    assert (result.status, result.points, result.max_points, result.check) == ("passed", 3.0, 3.0, "public")


def test_values_the_check_cannot_judge_fail_instead_of_raising() -> None:
    """Do plain but absurd values (10**400, a list for a captured argument) fail the function only?"""
    huge = _grade(CallOutcome("ok", value=10**400), "content_loss")
    assert huge.status == "failed" and huge.points == 0
    forged = _grade(
        CallOutcome("ok", value=None, args={0: {"value": [1, 2], "grad": "x"}}),
        "class_visualization_update_step",
    )
    assert forged.status in ("failed", "not_implemented") and forged.points == 0


def test_printed_output_is_appended_to_failures_only() -> None:
    """Is what the function printed shown with a failure (capped) and not with a pass?"""
    refs = load_references("public")
    failed = _grade(CallOutcome("ok", value=torch.zeros(1), output="debug " * 2000))
    assert "Output:" in failed.message and len(failed.message) < 2500
    passed = _grade(CallOutcome("ok", value=refs.expected("gram_matrix"), output="debug"))
    assert "Output:" not in passed.message
