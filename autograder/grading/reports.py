"""Reports written from grading results: gradebook CSV, feedback Markdown/HTML, Gradescope JSON.

Every function here reads :class:`autograder.grading.results.SubmissionResult` objects (plain data) and
writes files; nothing runs student code. All files are written atomically (temp file + rename).
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from autograder.functions import FUNCTIONS
from autograder.gradescope.results import gradescope_results  # results.json lives with the Gradescope code
from autograder.grading.results import CheckResult, SubmissionResult
from autograder.grading.store import escape_name, result_stem, write_atomic

__all__ = [
    "NOT_GRADED",
    "UNISOLATED",
    "feedback_html",
    "feedback_markdown",
    "grade_table",
    "gradebook_csv",
    "gradescope_results",
    "spreadsheet_safe",
    "write_reports",
]

_STATUS_LABEL = {
    "passed": "PASSED",
    "partial": "PARTIAL",
    "failed": "FAILED",
    "not_implemented": "NOT IMPLEMENTED",
    "error": "ERROR",
    "timeout": "TIMEOUT",
    "memory": "OUT OF MEMORY",
    "crashed": "CRASHED",
    "missing": "MISSING",
}


def _stem(result: SubmissionResult) -> str:
    return result_stem(result.student, result.assignment)


def _error_text(check: CheckResult) -> str:
    if check.rel_error is None or check.threshold is None:
        return ""
    return f"{check.rel_error:.1e} (threshold {check.threshold:.0e})"


#: What the gradebook and the grade table show instead of a total when the grader itself failed.
NOT_GRADED = "not graded (grader error)"


def _grader_error_note(result: SubmissionResult) -> str:
    return (
        f"Not graded: the autograder failed on its side ({result.grader_error}). This is not a problem in "
        "your notebook; your instructor will grade it again."
    )


#: What the gradebook's ``isolation`` column shows for a student graded without isolation.
UNISOLATED = "none (graded unisolated: --allow-unisolated)"


def _unisolated_note() -> str:
    return (
        "Graded without isolation: your code ran with the grader's own permissions (the instructor "
        "accepted this with --allow-unisolated). Scores are computed as usual."
    )


def spreadsheet_safe(text: str) -> str:
    """``text`` made inert for spreadsheets: a leading ``=``, ``+``, ``-``, ``@``, tab or CR would make
    Excel or LibreOffice evaluate the cell as a formula (CSV injection), so it gets a leading ``'``."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def gradebook_csv(results: Sequence[SubmissionResult]) -> str:
    """One row per student, one column per graded function (points), then total and maximum.

    A student with both notebooks gets one row; functions of a notebook not submitted are empty.
    A notebook the grader failed on (``grader_error``) makes the total :data:`NOT_GRADED`. One
    result counts per (student, assignment) (the last given), each function's points and each
    notebook's score are clamped to their maximum: no row can exceed ``max_total``. When any
    notebook was graded without isolation, a last column ``isolation`` says which (:data:`UNISOLATED`).
    """
    functions = list(FUNCTIONS)
    unique = {(r.student, r.assignment): r for r in results}
    rows: dict[str, dict[str, Any]] = {}
    unisolated = {r.student for r in unique.values() if r.isolation == "none"}
    for result in unique.values():
        row = rows.setdefault(result.student, {"student": result.student, "total": 0.0, "max_total": 0.0})
        if unisolated:
            row["isolation"] = UNISOLATED if result.student in unisolated else result.isolation
        row["max_total"] += result.max_score
        if result.grader_error or isinstance(row["total"], str):
            row["total"] = NOT_GRADED  # never a number that could be uploaded as the student's grade
            continue
        row["total"] += min(max(result.score, 0.0), result.max_score)
        for check in result.checks:
            if check.function in FUNCTIONS:
                points = min(max(check.points, 0.0), check.max_points)
                row[check.function] = min(
                    row.get(check.function, 0.0) + points, FUNCTIONS[check.function].points
                )
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer,
        fieldnames=["student", *functions, "total", "max_total", *(["isolation"] if unisolated else [])],
        lineterminator="\n",
    )
    writer.writeheader()
    for student in sorted(rows):
        row = rows[student]
        row["student"] = spreadsheet_safe(student)
        writer.writerow({k: (f"{v:g}" if isinstance(v, float) else v) for k, v in row.items()})
    return buffer.getvalue()


def feedback_markdown(result: SubmissionResult) -> str:
    """Feedback for one student: every check with points, measured error vs threshold, and hint."""
    lines = [
        f"# {result.assignment or 'Submission'}: feedback for {result.student}",
        "",
        f"**{_grader_error_note(result)}**"
        if result.grader_error
        else f"**Score: {result.score:g} / {result.max_score:g}**",
        "",
        *([f"**{_unisolated_note()}**", ""] if result.isolation == "none" else []),
        "| Function | Result | Points | rel_error | Details |",
        "|---|---|---|---|---|",
    ]
    for check in result.checks:
        details = check.message.splitlines()[0] if check.message else ""
        lines.append(
            f"| `{check.function}` | {_STATUS_LABEL.get(check.status, check.status)} | "
            f"{check.points:g} / {check.max_points:g} | {_error_text(check)} | {details.replace('|', '/')} |"
        )
    hints = [c for c in result.checks if c.status != "passed"]
    if hints:
        lines += ["", "## What to look at", ""]
        for check in hints:
            lines.append(f"### `{check.function}`: {_STATUS_LABEL.get(check.status, check.status)}")
            lines += ["", "```text", check.message.strip(), "```", ""]
            if check.hint:
                lines += [f"**Hint:** {check.hint}", ""]
    if result.problems:
        lines += ["", "## Problems with the notebook", ""] + [f"- {p}" for p in result.problems]
    return "\n".join(lines).rstrip() + "\n"


def feedback_html(result: SubmissionResult) -> str:
    """The same feedback as :func:`feedback_markdown`, as a standalone HTML page."""
    esc = html.escape
    rows = "\n".join(
        f"<tr class='{esc(c.status)}'><th scope='row'><code>{esc(c.function)}</code></th>"
        f"<td>{esc(_STATUS_LABEL.get(c.status, c.status))}</td><td>{c.points:g} / {c.max_points:g}</td>"
        f"<td>{esc(_error_text(c))}</td><td><pre>{esc(c.message.strip())}</pre>"
        + (f"<p><b>Hint:</b> {esc(c.hint)}</p>" if c.hint and c.status != "passed" else "")
        + "</td></tr>"
        for c in result.checks
    )
    problems = "".join(f"<li>{esc(p)}</li>" for p in result.problems)
    title = f"{result.assignment or 'Submission'}: feedback for {result.student}"
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{esc(title)}</title><style>"
        "body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.3em .6em;vertical-align:top;text-align:left}"
        "pre{white-space:pre-wrap;margin:0}"
        ".passed td:nth-child(2){color:#070}.failed td:nth-child(2),.error td:nth-child(2){color:#a00}"
        f"</style></head><body><h1>{esc(title)}</h1>"
        + (
            f"<p><b>{esc(_grader_error_note(result))}</b></p>"
            if result.grader_error
            else f"<p><b>Score: {result.score:g} / {result.max_score:g}</b></p>"
        )
        + (f"<p><b>{esc(_unisolated_note())}</b></p>" if result.isolation == "none" else "")
        + "<table><tr><th scope='col'>Function</th><th scope='col'>Result</th><th scope='col'>Points</th>"
        "<th scope='col'>rel_error</th><th scope='col'>Details</th></tr>"
        f"{rows}</table>"
        + (f"<h2>Problems with the notebook</h2><ul>{problems}</ul>" if problems else "")
        + "</body></html>\n"
    )


def grade_table(results: Sequence[SubmissionResult]) -> str:
    """A plain-text table, student x function, with totals (the demo prints it).

    The total reads ``ERROR`` for a student whose notebook the grader failed on (``grader_error``).
    """
    functions = list(FUNCTIONS)
    short = {
        f: f.replace("compute_", "").replace("class_visualization_update_step", "class_vis_step")
        for f in functions
    }
    by_student: dict[str, dict[str, str]] = {}
    totals: dict[str, list[float]] = {}
    failed = {r.student for r in results if r.grader_error}
    for result in results:
        cells = by_student.setdefault(result.student, {})
        total = totals.setdefault(result.student, [0.0, 0.0])
        total[0] += result.score
        total[1] += result.max_score
        for check in result.checks:
            cells[check.function] = f"{check.points:g}/{check.max_points:g}"
    width = max([len("student"), *(len(s) for s in by_student)])
    header = [
        "student".ljust(width),
        *(short[f].rjust(max(len(short[f]), 5)) for f in functions),
        "total".rjust(9),
    ]
    lines = ["  ".join(header)]
    for student in sorted(by_student):
        cells = by_student[student]
        row = [student.ljust(width)]
        row += [cells.get(f, "-").rjust(max(len(short[f]), 5)) for f in functions]
        total = "ERROR" if student in failed else f"{totals[student][0]:g}/{totals[student][1]:g}"
        row.append(total.rjust(9))
        lines.append("  ".join(row))
    return "\n".join(lines)


def write_reports(results: Sequence[SubmissionResult], out_dir: Path) -> dict[str, Path]:
    """Write the gradebook, per-student feedback and Gradescope JSON for all results.

    Layout of ``out_dir``: ``results/<student>__<assignment>.json`` (written by the grader),
    ``gradebook.csv``, ``feedback/<student>__<assignment>.md`` and ``.html``,
    ``gradescope/<student>.json``.

    A writer that fails for one result costs that file only: the failure is listed in
    ``report-errors.txt`` (removed when there are none) and every other file, the gradebook
    included, is still written.

    Returns:
        The summary files written, by kind.
    """
    out_dir = Path(out_dir)
    errors: list[str] = []

    def attempt(what: str, write: Callable[[], None]) -> None:
        try:
            write()
        except Exception as exc:  # one report's failure must not cost the others
            errors.append(f"{what}: {type(exc).__name__}: {exc}")

    for result in results:
        stem = _stem(result)
        for suffix, render in ((".md", feedback_markdown), (".html", feedback_html)):
            path = out_dir / "feedback" / f"{stem}{suffix}"
            attempt(str(path), lambda p=path, r=render, res=result: write_atomic(p, r(res)))
    by_student: dict[str, list[SubmissionResult]] = {}
    for result in results:
        by_student.setdefault(result.student, []).append(result)
    for student, student_results in by_student.items():
        path = out_dir / "gradescope" / f"{escape_name(student)}.json"
        attempt(
            str(path),
            lambda p=path, rs=student_results: write_atomic(p, json.dumps(gradescope_results(rs), indent=2)),
        )
    gradebook = out_dir / "gradebook.csv"
    try:
        text = gradebook_csv(results)
    except Exception as exc:  # a row that cannot be written: write the others, name the failure
        errors.append(f"{gradebook}: {type(exc).__name__}: {exc}")
        text = gradebook_csv([r if _gradebook_ok(r) else _unwritable(r) for r in results])
    write_atomic(gradebook, text)
    log = out_dir / "report-errors.txt"
    if errors:
        write_atomic(log, "\n".join(errors) + "\n")
    else:
        log.unlink(missing_ok=True)
    return {"gradebook": gradebook, "feedback": out_dir / "feedback", "gradescope": out_dir / "gradescope"}


def _unwritable(result: SubmissionResult) -> SubmissionResult:
    """A stand-in row for a result the gradebook could not write: not graded, never a number."""
    return SubmissionResult(
        student=result.student,
        assignment=result.assignment,
        score=0.0,
        max_score=result.max_score,
        grader_error="its gradebook row could not be written (see report-errors.txt)",
    )


def _gradebook_ok(result: SubmissionResult) -> bool:
    try:
        gradebook_csv([result])
    except Exception:
        return False
    return True
