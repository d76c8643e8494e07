"""Gradescope's ``results.json`` from grading results.

Choices (format: https://gradescope-autograders.readthedocs.io/en/latest/specs/):

* **Partial credit is ``"status": "passed"``.** Gradescope knows two statuses; ``status`` only picks
  the icon (green tick or red cross), the points are shown next to the test's name either way, and
  without a status Gradescope marks every test below full marks as failed. A red cross next to
  earned points reads as "no credit", so a test is ``"failed"`` only when it earned nothing; the
  output of a partly correct function starts with "Partial credit: 1.5 / 3" and says what is wrong.
* **What was uploaded is visible at once.** The top-level ``output`` and a first test, number ``0``
  with ``max_score`` 0 and ``"visibility": "visible"``, say which file was graded as which
  notebook, how many functions were graded, and what is missing or ignored, so a student who
  uploaded the wrong file learns it before the deadline. Scores and per-function feedback keep
  the configured visibility (default ``after_published``).
* Every test has a ``number`` (``"2.3"``: notebook 2, function 3) and Markdown output
  (``output_format: "md"``: messages and measured errors sit in code blocks).
* **A grader failure is not a grade.** :func:`failure_results` tells the student, visibly, that
  grading failed on the autograder's side and that staff will regrade; the run exits non-zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from autograder.course import NOTEBOOKS
from autograder.functions import FUNCTIONS, function_names
from autograder.gradescope.config import DEFAULT_VISIBILITY
from autograder.gradescope.upload import Upload
from autograder.grading.escaping import md_block, md_code, md_text
from autograder.grading.results import PRINTED_HEADING, CheckResult, SubmissionResult
from autograder.status import Status, status_label

__all__ = ["failure_results", "gradescope_results", "upload_message"]


def _number(assignment: str | None, function: str) -> str:
    if assignment in NOTEBOOKS:
        functions = function_names(assignment)
        return f"{list(NOTEBOOKS).index(assignment) + 1}.{functions.index(function) + 1}"
    return f"9.{list(FUNCTIONS).index(function) + 1}"


def _test(result: SubmissionResult, check: CheckResult, visibility: str) -> dict[str, Any]:
    earned = check.earned > 0 or check.max_points == 0
    label = status_label(check.status)
    if check.status != "passed" and earned:
        label = Status.PARTIAL.label
    lines = [f"**{md_text(label.capitalize())}: {check.earned:g} / {check.max_points:g} points**"]
    if check.message.strip():
        lines += ["", md_block(check.message.strip())]
    if check.hint and check.status != "passed":
        lines += ["", f"**Hint:** {md_text(check.hint)}"]
    if check.output.strip() and check.status != "passed":
        lines += ["", md_text(PRINTED_HEADING), "", md_block(check.output)]
    extra = {"status": check.status, "check": check.check}
    if check.rel_error is not None:
        extra.update(rel_error=check.rel_error, threshold=check.threshold)
    return {
        "name": f"{result.assignment or 'notebook'}: {check.function}",
        "number": _number(result.assignment, check.function),
        "score": float(check.earned),
        "max_score": float(check.max_points),
        "status": "passed" if earned else "failed",
        "output": "\n".join(lines),
        "output_format": "md",
        "visibility": visibility,
        "extra_data": extra,
    }


def _upload_from(results: Sequence[SubmissionResult]) -> Upload:
    """An :class:`Upload` for results graded outside Gradescope (``grade --gradescope-json``)."""
    upload = Upload()
    for result in results:
        name = result.source.rsplit("/", 1)[-1] or result.student
        upload.files.append(name)
        upload.graded[result.assignment or name] = name
        upload.problems += result.problems
    return upload


def upload_message(upload: Upload, results: Sequence[SubmissionResult], visibility: str) -> str:
    """The short Markdown summary students see at once: what was graded, what is missing or ignored.

    File names and problems come from the upload: each is escaped (:mod:`autograder.grading.escaping`).
    """
    by_assignment = {r.assignment: r for r in results}
    lines = []
    for assignment, name in upload.graded.items():
        result = by_assignment.get(assignment)
        count = len(result.checks) if result else 0
        if assignment in upload.unreadable:
            lines.append(
                f"- Found {md_code(name)} for **{md_text(assignment)}**, but it could not be read "
                "(see the problems below): it scores 0. Upload the notebook file itself and submit again."
            )
            continue
        lines.append(
            f"- Found {md_code(name)}: graded as **{md_text(assignment)}**, {count} functions graded."
        )
    for assignment in upload.missing:
        lines.append(
            f"- **Missing: no {md_text(assignment)} notebook** in your upload. Upload "
            f"{md_code(assignment + '.ipynb')} (in Jupyter: File > Download) and submit again."
        )
    for ignored in upload.ignored:
        lines.append(f"- Not graded: {md_code(ignored)}.")
    if not upload.files:
        lines.append("- Your submission holds no files.")
    elif upload.missing and not upload.graded:
        lines.append("- Files uploaded: " + ", ".join(md_code(f) for f in upload.files[:20]) + ".")
    problems = list(dict.fromkeys(upload.problems))
    if problems:
        lines += ["", "Problems reading your notebook:", *(f"- {md_text(p)}" for p in problems[:10])]
    if visibility != "visible":
        lines += ["", "Scores and feedback per function appear when the course staff publish them."]
    return "\n".join(lines)


def gradescope_results(
    results: Sequence[SubmissionResult],
    *,
    upload: Upload | None = None,
    seconds: float | None = None,
    visibility: str = DEFAULT_VISIBILITY,
) -> dict[str, Any]:
    """Gradescope's ``results.json`` for one student's submission (one or more notebooks).

    Args:
        results: the graded notebooks (none may have a ``grader_error``: use
            :func:`failure_results` then).
        upload: what was uploaded (default: described from ``results``).
        seconds: grading time, written as ``execution_time``.
        visibility: of the score and per-function tests (the upload check is always visible).

    Returns:
        The JSON object (validated by :func:`autograder.gradescope.schema.validate_results`).
    """
    results = list({r.assignment: r for r in results}.values())  # one per notebook, as the gradebook
    upload = upload or _upload_from(results)
    message = upload_message(upload, results, visibility)
    if any(r.isolation == "none" for r in results):
        message += (
            "\n\n**Graded without isolation:** your code ran with the grader's own permissions (the "
            "instructor accepted this with --allow-unisolated). Scores are computed as usual."
        )
    ok = bool(upload.graded) and not upload.missing and not upload.unreadable
    tests: list[dict[str, Any]] = [
        {
            "name": "Submission: files found",
            "number": "0",
            "score": 0.0,
            "max_score": 0.0,
            "status": "passed" if ok else "failed",
            "output": message,
            "output_format": "md",
            "visibility": "visible",
        }
    ]
    for result in results:
        tests += [_test(result, check, visibility) for check in result.checks]
    data: dict[str, Any] = {
        "score": round(sum(r.earned for r in results), 4),
        "output": message,
        "output_format": "md",
        "visibility": visibility,
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {"upload": asdict(upload)},
    }
    if seconds is not None:
        data["execution_time"] = round(seconds)  # whole seconds, as in the spec
    return data


def failure_results(error: str, *, seconds: float | None = None) -> dict[str, Any]:
    """``results.json`` for a run where the grader itself failed: visibly not a grade.

    Gradescope needs a score, so it is 0; the output (visible at once) says it is not the
    student's grade, and ``extra_data.grader_error`` records the cause for staff.
    """
    data: dict[str, Any] = {
        "score": 0.0,
        "output": (
            "**Grading failed on the autograder's side: this is not your grade.** Nothing is wrong "
            "with your submission as far as we know. The error is recorded for the course staff, "
            "who will regrade your submission; you do not need to resubmit."
        ),
        "output_format": "md",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [],
        "extra_data": {"grader_error": error[:2000]},
    }
    if seconds is not None:
        data["execution_time"] = round(seconds)  # whole seconds, as in the spec
    return data
