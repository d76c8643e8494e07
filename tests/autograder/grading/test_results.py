"""Tests of autograder.grading.results: results survive JSON, strictly and across versions."""

from __future__ import annotations

import json

from autograder.grading.results import CheckResult, SubmissionResult


def _result() -> SubmissionResult:
    check = CheckResult("tv_loss", "hidden", 0.0, 3.0, "failed", "rel_error inf", "hint", float("inf"), 1e-4)
    return SubmissionResult("ada", "StyleTransfer", 0.0, 11.0, [check], ["a problem"], "x.ipynb")


def test_round_trip_keeps_everything_and_writes_strict_json() -> None:
    """Does a result come back equal, with a non-finite rel_error written as null (never Infinity)?"""
    text = _result().to_json()
    assert "Infinity" not in text and "NaN" not in text
    json.loads(text, parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)))
    back = SubmissionResult.from_json(text)
    assert back.checks[0].rel_error is None
    assert back.checks[0].threshold == 1e-4 and back.problems == ["a problem"]


def test_results_of_other_versions_are_read() -> None:
    """Are fields this version does not know ignored, and missing optional ones defaulted?"""
    data = json.loads(_result().to_json())
    data["added_later"] = 1
    data["checks"][0]["also_new"] = "x"
    del data["grader_error"]
    back = SubmissionResult.from_json(json.dumps(data))
    assert back.grader_error == "" and back.checks[0].function == "tv_loss"
