"""Reports: JSON round trip, gradebook CSV, feedback text, Gradescope's results.json schema."""

from __future__ import annotations

import csv
import io
import json

from autograder.functions import FUNCTIONS
from autograder.grading.reports import (
    feedback_html,
    feedback_markdown,
    gradebook_csv,
    gradescope_results,
    write_reports,
)
from autograder.grading.results import CheckResult, SubmissionResult


def _result(student: str = "ada", assignment: str = "StyleTransfer") -> SubmissionResult:
    checks = [
        CheckResult(
            "content_loss", "hidden", 2.0, 2.0, "passed", "rel_error 1.0e-08 < 1e-03", "", 1e-8, 1e-3
        ),
        CheckResult(
            "gram_matrix",
            "hidden",
            1.5,
            3.0,
            "partial",
            "rel_error 9.9e-01 >= 1e-03; looks like: not normalized",
            "Divide by H * W * C",
            0.99,
            1e-3,
        ),
        CheckResult(
            "style_loss", "hidden", 0.0, 3.0, "timeout", "style_loss ran out of time", "", None, None
        ),
        CheckResult("tv_loss", "hidden", 0.0, 3.0, "not_implemented", "NOT IMPLEMENTED YET", ""),
    ]
    return SubmissionResult(student, assignment, 3.5, 11.0, checks, ["cell 3 was skipped"], "x.ipynb")


def test_json_round_trip() -> None:
    """Does a result survive to_json/from_json unchanged?"""
    result = _result()
    assert SubmissionResult.from_json(result.to_json()) == result


def test_gradebook_has_one_row_per_student_and_a_column_per_function() -> None:
    """Does the gradebook merge a student's notebooks into one row with per-function columns and total?"""
    other = SubmissionResult(
        "ada",
        "NetworkVisualization",
        4.0,
        12.0,
        [CheckResult("compute_saliency_maps", "hidden", 4.0, 4.0, "passed", "ok")],
    )
    rows = list(csv.DictReader(io.StringIO(gradebook_csv([_result(), other, _result("bob")]))))
    assert [r["student"] for r in rows] == ["ada", "bob"]
    assert list(rows[0]) == ["student", *FUNCTIONS, "total", "max_total"]
    assert rows[0]["gram_matrix"] == "1.5" and rows[0]["compute_saliency_maps"] == "4"
    assert rows[0]["total"] == "7.5" and rows[0]["max_total"] == "23"
    assert rows[1]["compute_saliency_maps"] == ""


def test_feedback_lists_points_error_threshold_and_hint() -> None:
    """Does the Markdown feedback show each check's points, rel_error vs threshold, and the hint?"""
    text = feedback_markdown(_result())
    assert "1.5 / 3" in text and "9.9e-01 (threshold 1e-03)" in text
    assert "Divide by H * W * C" in text and "cell 3 was skipped" in text
    assert "<td>" in feedback_html(_result()) and "&lt;" not in feedback_markdown(_result())


def test_gradescope_schema() -> None:
    """Does results.json follow Gradescope's spec (score; tests with name, score, max_score, output...)?"""
    data = gradescope_results([_result()])
    json.dumps(data)
    assert data["score"] == 3.5
    assert data["visibility"] in {"hidden", "after_due_date", "after_published", "visible"}
    for test in data["tests"]:
        assert set(test) >= {"name", "score", "max_score", "output", "visibility"}
        assert isinstance(test["score"], float) and isinstance(test["max_score"], float)
    assert sum(t["max_score"] for t in data["tests"]) == 11.0


def test_write_reports_layout(tmp_path) -> None:
    """Are gradebook.csv, feedback/*.md|html and gradescope/<student>.json all written?"""
    write_reports([_result(), _result("bob")], tmp_path)
    assert (tmp_path / "gradebook.csv").is_file()
    assert (tmp_path / "feedback" / "ada__StyleTransfer.md").is_file()
    assert (tmp_path / "feedback" / "bob__StyleTransfer.html").is_file()
    assert json.loads((tmp_path / "gradescope" / "ada.json").read_text())["score"] == 3.5
