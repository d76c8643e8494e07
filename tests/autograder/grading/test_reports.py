"""Reports: JSON round trip, gradebook CSV, feedback text, Gradescope's results.json schema."""

from __future__ import annotations

import csv
import io
import json

from autograder.batch_outputs import write_outputs
from autograder.functions import FUNCTIONS
from autograder.gradescope.results import gradescope_results
from autograder.grading.reports import feedback_html, feedback_markdown, gradebook_csv
from autograder.grading.results import CheckResult, SubmissionResult
from tests.helpers.markdown import rendered, visible_text


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
    shown = visible_text(text)
    assert "Divide by H * W * C" in shown and "cell 3 was skipped" in shown
    assert "<td>" in feedback_html(_result())


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


def test_write_outputs_layout(tmp_path) -> None:
    """Are gradebook.csv, feedback/*.md|html, gradescope/<student>.json and the class report all
    written, and run.json left to the grader?"""
    paths = write_outputs(tmp_path, [_result(), _result("bob")], None)
    assert paths["html"] == tmp_path / "report.html" and paths["html"].is_file()
    assert not (tmp_path / "run.json").exists()
    assert (tmp_path / "gradebook.csv").is_file()
    assert (tmp_path / "feedback" / "ada__StyleTransfer.md").is_file()
    assert (tmp_path / "feedback" / "bob__StyleTransfer.html").is_file()
    assert json.loads((tmp_path / "gradescope" / "ada.json").read_text())["score"] == 3.5


#: A name with Markdown, raw HTML and line breaks that would fake a score (issue 21, finding 7).
_HOSTILE_NAME = "mallory\n\n# **Score: 11/11**\n<img src=x onerror=alert(1)>`x`|y"


def _hostile_result() -> SubmissionResult:
    checks = [
        CheckResult(
            "content_loss",
            "public",
            0.0,
            2.0,
            "error",
            "```\n</pre><script>x</script>\n# **Score: 11/11**",
            "Divide by H * W * C",
        )
    ]
    problems = ["cell 2 of ```evil``` <b>x</b>\n\n# **Score: 11/11**"]
    return SubmissionResult(_HOSTILE_NAME, "StyleTransfer", 0.0, 2.0, checks, problems, "x.ipynb")


def test_markdown_feedback_escapes_every_student_text() -> None:
    """Can a student's folder name, message or problem add a heading, bold text or HTML to the
    Markdown feedback (a name with newlines rendered "Score: 11/11" above the real score)?"""
    html = rendered(feedback_markdown(_hostile_result()))
    assert "<img" not in html and "<script" not in html and "<b>" not in html
    assert "<strong>Score: 11/11</strong>" not in html and "<h1>Score" not in html
    assert html.count("<h1>") == 1 and "<strong>Score: 0 / 2</strong>" in html
    shown = visible_text(feedback_markdown(_hostile_result()))
    assert "mallory # **Score: 11/11** <img src=x onerror=alert(1)>`x`|y" in shown


def test_gradescope_output_escapes_file_names_and_problems() -> None:
    """Does the Gradescope text students see at once show an uploaded name and problem literally?"""
    from autograder.gradescope.upload import Upload

    name = "x`\n\n**Score: 11/11**\n<img src=y>.ipynb"
    upload = Upload([name], {"StyleTransfer": name}, [name + " (another)"], [], [_HOSTILE_NAME])
    data = gradescope_results([_hostile_result()], upload=upload, visibility="visible")
    for text in [data["output"], *(t["output"] for t in data["tests"])]:
        html = rendered(text)
        assert "<img" not in html and "<script" not in html and "<h1>" not in html, html
        assert "<strong>Score: 11/11</strong>" not in html, html
    assert "x` **Score: 11/11** <img src=y>.ipynb" in visible_text(data["output"])


def test_every_total_is_clamped_the_same_way_everywhere(tmp_path) -> None:
    """Does a result above its maximum (or below 0) show the same clamped total in the gradebook,
    the feedback, Gradescope, the class report and the grade table (99 out of 11 was shown)?"""
    from autograder.class_report import class_report_csv
    from autograder.class_report.stats import class_stats
    from autograder.grading.reports import grade_table

    checks = [
        CheckResult("content_loss", "hidden", 50.0, 2.0, "passed", ""),
        CheckResult("gram_matrix", "hidden", -5.0, 3.0, "failed", ""),
        CheckResult("style_loss", "hidden", 49.0, 3.0, "passed", ""),
        CheckResult("tv_loss", "hidden", 0.0, 3.0, "failed", ""),
    ]
    inflated = SubmissionResult("ann", "StyleTransfer", 99.0, 11.0, checks)
    negative = SubmissionResult("bo", "StyleTransfer", -3.0, 11.0, [])
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO(gradebook_csv([inflated, negative])))}
    assert rows["ann"]["total"] == "11" and rows["ann"]["content_loss"] == "2"
    assert rows["ann"]["gram_matrix"] == "0" and rows["bo"]["total"] == "0"
    assert "Score: 11 / 11" in feedback_markdown(inflated) and "Score: 11 / 11" in feedback_html(inflated)
    assert "Score: 0 / 11" in feedback_markdown(negative)
    data = gradescope_results([inflated])
    assert data["score"] == 11.0
    assert all(0 <= t["score"] <= t["max_score"] for t in data["tests"])
    table = grade_table([inflated, negative])
    assert "11/11" in table and "99" not in table and "0/11" in table and "-3" not in table
    report = {
        (r["section"], r["item"]): r["value"]
        for r in csv.DictReader(io.StringIO(class_report_csv(class_stats([inflated, negative]))))
    }
    assert report[("total", "max")] == "11" and report[("total", "min")] == "0"


def test_a_result_with_any_mistyped_field_is_refused() -> None:
    """Is a result file whose field has the wrong kind (any field: reports rely on each) refused?"""
    import pytest

    good = json.loads(_result().to_json())
    bad_fields = {
        "isolation": 5,
        "seconds": "fast",
        "protections": ["uid"],
        "fingerprints": {"gram_matrix": "abc"},
        "problems": "one",
    }
    for key, value in bad_fields.items():
        with pytest.raises(TypeError):
            SubmissionResult.from_json(json.dumps({**good, key: value}))
    for key, value in {"mistake": 3, "seconds": [1], "threshold": "1e-3"}.items():
        data = json.loads(_result().to_json())
        data["checks"][0][key] = value
        with pytest.raises(TypeError):
            SubmissionResult.from_json(json.dumps(data))


def test_feedback_shows_what_a_failing_function_printed_as_text() -> None:
    """Does the feedback show, under a check that did not pass, what the function printed (as inert text,
    never markup), and nothing for a passed check?"""
    from autograder.grading.escaping import terminal_text

    printed = terminal_text("debug: shape (2, 3)\r\n\x1b[31m<img src=x onerror=alert(1)>```\x1b[0m")
    failed = CheckResult(
        "tv_loss", "public", 0.0, 3.0, "failed", "rel_error 1.0e+00 >= 1e-04", output=printed
    )
    passed = CheckResult("content_loss", "public", 2.0, 2.0, "passed", "ok", output="passed-print")
    result = SubmissionResult("ada", "StyleTransfer", 2.0, 5.0, [passed, failed])
    page = rendered(feedback_markdown(result))
    assert "<img" not in page and "\x1b" not in page
    shown = visible_text(feedback_markdown(result))
    assert "debug: shape (2, 3)" in shown and "<img src=x onerror=alert(1)>```" in shown
    assert "passed-print" not in shown
    html_page = feedback_html(result)
    assert "&lt;img src=x" in html_page and "<img" not in html_page and "passed-print" not in html_page
    outputs = {t["name"]: t["output"] for t in gradescope_results([result])["tests"]}
    assert "debug: shape (2, 3)" in visible_text(outputs["StyleTransfer: tv_loss"])
    assert "passed-print" not in outputs["StyleTransfer: content_loss"]
