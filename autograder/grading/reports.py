"""Reports written from grading results: gradebook CSV, feedback Markdown and HTML, per-student files.

Every function here reads :class:`autograder.grading.results.SubmissionResult` objects (plain data) and
writes files; nothing runs student code. All files are written atomically (temp file + rename).
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.functions import FUNCTIONS
from autograder.grading.escaping import md_block, md_code, md_text, one_line, spreadsheet_safe
from autograder.grading.results import PRINTED_HEADING, CheckResult, SubmissionResult
from autograder.grading.store import escape_name, result_stem, write_atomic
from autograder.status import status_label

__all__ = [
    "NOT_GRADED",
    "UNISOLATED",
    "StudentRow",
    "feedback_html",
    "feedback_markdown",
    "grade_table",
    "gradebook_csv",
    "student_totals",
    "write_reports",
]


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


@dataclass
class StudentRow:
    """One student's points over every notebook they submitted (what the gradebook and table show).

    Attributes:
        student: the student's id.
        points: per graded function, the points earned (clamped to the function's points).
        total: the sum of the notebooks' clamped scores, or :data:`NOT_GRADED`.
        max_total: the points available in the notebooks submitted.
        isolation: the isolation of each notebook graded (``"none"`` when any was unisolated).
    """

    student: str
    points: dict[str, float] = field(default_factory=dict)
    total: float | str = 0.0
    max_total: float = 0.0
    isolation: str = ""


def student_totals(results: Sequence[SubmissionResult]) -> list[StudentRow]:
    """One row per student, sorted: the one way every writer adds a student's points up.

    One result counts per (student, assignment) (the last given); each function's points and each
    notebook's score are clamped to their maximum (:attr:`SubmissionResult.earned`), so no row can
    exceed ``max_total``. A notebook the grader failed on (``grader_error``) makes the total
    :data:`NOT_GRADED`.
    """
    unique = {(r.student, r.assignment): r for r in results}
    rows: dict[str, StudentRow] = {}
    for result in unique.values():
        row = rows.setdefault(result.student, StudentRow(result.student))
        row.max_total += result.max_score
        if result.isolation == "none" or not row.isolation:
            row.isolation = result.isolation
        if result.grader_error or isinstance(row.total, str):
            row.total = NOT_GRADED  # never a number that could be uploaded as the student's grade
            continue
        row.total += result.earned
        for check in result.checks:
            if check.function in FUNCTIONS:
                points = row.points.get(check.function, 0.0) + check.earned
                row.points[check.function] = min(points, FUNCTIONS[check.function].points)
    return [rows[s] for s in sorted(rows)]


def gradebook_csv(results: Sequence[SubmissionResult]) -> str:
    """One row per student, one column per graded function (points), then total and maximum.

    A student with both notebooks gets one row; functions of a notebook not submitted are empty.
    Totals as :func:`student_totals` adds them up. When any notebook was graded without
    isolation, a last column ``isolation`` says which (:data:`UNISOLATED`). Names are made inert
    for spreadsheets (:func:`~autograder.grading.escaping.spreadsheet_safe`).
    """
    rows = student_totals(results)
    unisolated = any(r.isolation == "none" for r in rows)
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer,
        fieldnames=["student", *FUNCTIONS, "total", "max_total", *(["isolation"] if unisolated else [])],
        lineterminator="\n",
    )
    writer.writeheader()
    for row in rows:
        line: dict[str, Any] = {"student": spreadsheet_safe(row.student), **row.points}
        line |= {"total": row.total, "max_total": row.max_total}
        if unisolated:
            line["isolation"] = UNISOLATED if row.isolation == "none" else row.isolation
        writer.writerow({k: (f"{v:g}" if isinstance(v, float) else v) for k, v in line.items()})
    return buffer.getvalue()


def _score_line(result: SubmissionResult) -> str:
    return f"Score: {result.earned:g} / {result.max_score:g}"


def feedback_markdown(result: SubmissionResult) -> str:
    """Feedback for one student: every check with points, measured error vs threshold, and hint.

    Every text that comes from the submission (the student's name, messages, problems) is escaped
    (:mod:`autograder.grading.escaping`): it can add no heading, emphasis, link or HTML.
    """
    title = f"{result.assignment or 'Submission'}: feedback for {result.student}"
    lines = [
        f"# {md_text(title)}",
        "",
        f"**{md_text(_grader_error_note(result))}**" if result.grader_error else f"**{_score_line(result)}**",
        "",
        *([f"**{_unisolated_note()}**", ""] if result.isolation == "none" else []),
        "| Function | Result | Points | rel_error | Details |",
        "|---|---|---|---|---|",
    ]
    for check in result.checks:
        details = check.message.strip().splitlines()[0] if check.message.strip() else ""
        lines.append(
            f"| {md_code(check.function)} | {md_text(status_label(check.status).upper())} | "
            f"{check.earned:g} / {check.max_points:g} | {_error_text(check)} | {md_text(details)} |"
        )
    hints = [c for c in result.checks if c.status != "passed"]
    if hints:
        lines += ["", "## What to look at", ""]
        for check in hints:
            lines.append(f"### {md_code(check.function)}: {md_text(status_label(check.status).upper())}")
            lines += ["", md_block(check.message.strip()), ""]
            if check.hint:
                lines += [f"**Hint:** {md_text(check.hint)}", ""]
            if check.output.strip():
                lines += [
                    md_text(PRINTED_HEADING),
                    "",
                    md_block(check.output),
                    "",
                ]
    if result.problems:
        lines += ["", "## Problems with the notebook", ""] + [f"- {md_text(p)}" for p in result.problems]
    return "\n".join(lines).rstrip() + "\n"


def feedback_html(result: SubmissionResult) -> str:
    """The same feedback as :func:`feedback_markdown`, as a standalone HTML page."""
    esc = html.escape
    rows = "\n".join(
        f"<tr class='{esc(c.status)}'><th scope='row'><code>{esc(c.function)}</code></th>"
        f"<td>{esc(status_label(c.status).upper())}</td><td>{c.earned:g} / {c.max_points:g}</td>"
        f"<td>{esc(_error_text(c))}</td><td><pre>{esc(c.message.strip())}</pre>"
        + (f"<p><b>Hint:</b> {esc(c.hint)}</p>" if c.hint and c.status != "passed" else "")
        + (
            f"<p>{esc(PRINTED_HEADING)}</p><pre>{esc(c.output)}</pre>"
            if c.output.strip() and c.status != "passed"
            else ""
        )
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
            else f"<p><b>{esc(_score_line(result))}</b></p>"
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

    Points and totals are :func:`student_totals`' (the gradebook's); the total reads ``ERROR`` for a
    student whose notebook the grader failed on (``grader_error``). Names are shown on one line.
    """
    functions = list(FUNCTIONS)
    short = {
        f: f.replace("compute_", "").replace("class_visualization_update_step", "class_vis_step")
        for f in functions
    }
    maxima = {(r.student, r.assignment): r for r in results}
    available: dict[str, dict[str, float]] = {}
    for result in maxima.values():
        for check in result.checks:
            available.setdefault(result.student, {})[check.function] = check.max_points
    rows = student_totals(results)
    names = {row.student: one_line(row.student) for row in rows}
    width = max([len("student"), *(len(n) for n in names.values())])
    header = [
        "student".ljust(width),
        *(short[f].rjust(max(len(short[f]), 5)) for f in functions),
        "total".rjust(9),
    ]
    lines = ["  ".join(header)]
    for row in rows:
        cells = [names[row.student].ljust(width)]
        for f in functions:
            limit = available.get(row.student, {}).get(f)
            cell = "-" if limit is None else f"{row.points.get(f, 0.0):g}/{limit:g}"
            cells.append(cell.rjust(max(len(short[f]), 5)))
        total = "ERROR" if isinstance(row.total, str) else f"{row.total:g}/{row.max_total:g}"
        cells.append(total.rjust(9))
        lines.append("  ".join(cells))
    return "\n".join(lines)


def write_reports(
    results: Sequence[SubmissionResult],
    out_dir: Path,
    student_files: Mapping[str, Callable[[Sequence[SubmissionResult]], str]] | None = None,
) -> dict[str, Path]:
    """Write the gradebook, per-student feedback and any per-student files for all results.

    Layout of ``out_dir``: ``results/<student>__<assignment>.json`` (written by the grader),
    ``gradebook.csv``, ``feedback/<student>__<assignment>.md`` and ``.html``, and for each
    ``folder -> render`` of ``student_files`` ``<folder>/<student>.json`` holding ``render`` of that
    student's results (:mod:`autograder.batch_outputs` passes Gradescope's ``results.json``).

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
    for folder, render in (student_files or {}).items():
        for student, student_results in by_student.items():
            path = out_dir / folder / f"{escape_name(student)}.json"
            attempt(str(path), lambda p=path, rs=student_results, r=render: write_atomic(p, r(rs)))
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
    return {
        "gradebook": gradebook,
        "feedback": out_dir / "feedback",
        **{folder: out_dir / folder for folder in student_files or {}},
    }


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
