"""Grades for learning-management systems: Canvas's gradebook CSV and Moodle's grade-import CSV.

The batch grader knows students by their submission names (nbgrader's ``submitted/<student>/``
folders, zip or notebook names: the ``student`` column of ``gradebook.csv``); Canvas and Moodle know
them by their own identities. A **roster** (CSV, UTF-8) maps one to the other, one row per student:

==================  =================================================================================
column              meaning
==================  =================================================================================
``submission``      the name the grader knows the student by (required)
``name``            the student's name as the LMS shows it (Canvas's ``Student`` column)
``canvas_id``       Canvas's user ID (``ID`` column of a Canvas gradebook export)
``sis_user_id``     Canvas's ``SIS User ID``
``sis_login_id``    Canvas's ``SIS Login ID``
``section``         Canvas's ``Section``
``email``           Moodle's ``Email address``
``id_number``       Moodle's ``ID number``
``username``        Moodle's ``Username``
==================  =================================================================================

:func:`canvas_csv` writes Canvas's gradebook layout (Grades > Import): ``Student, ID, SIS User ID,
SIS Login ID, Section``, then one column per assignment named ``<name> (<Canvas assignment id>)`` (a
name without an id makes Canvas create the assignment), a ``Points Possible`` row, one row per
student. Canvas matches a student by ``ID``, ``SIS User ID`` or ``SIS Login ID``, so each needs one.
:func:`moodle_csv` writes what Moodle's Grades > Import > CSV file reads: a header, an identifier
column (``Email address``, ``ID number`` or ``Username``: choose it as *Map from* and the same field
as *Map to*), one column per assignment (map each to its grade item, or *New grade item*). Both are
UTF-8, comma-separated, one score per cell with a ``.`` decimal point.

A graded submission missing from the roster stops the export (its grade would be lost), with every
such name listed; so does a student without the identity a format needs. A student of the roster
without a result gets an empty cell (LMS imports leave empty cells unchanged), never a 0, and so
does a notebook the grader failed on; :class:`Export` lists both.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from autograder.course import NOTEBOOKS
from autograder.functions import autograded_points
from autograder.grading.reports import spreadsheet_safe
from autograder.grading.results import SubmissionResult
from autograder.grading.store import write_atomic

__all__ = [
    "CANVAS_IDENTITIES",
    "MOODLE_IDENTIFIERS",
    "ROSTER_COLUMNS",
    "Export",
    "LmsError",
    "RosterEntry",
    "canvas_csv",
    "export_grades",
    "moodle_csv",
    "read_roster",
]

#: Every column a roster may have (``submission`` required).
ROSTER_COLUMNS = (
    "submission",
    "name",
    "canvas_id",
    "sis_user_id",
    "sis_login_id",
    "section",
    "email",
    "id_number",
    "username",
)
#: Roster columns by which Canvas can match a student (one is needed).
CANVAS_IDENTITIES = ("canvas_id", "sis_user_id", "sis_login_id")
#: Moodle identifier choices: roster column -> the column name written (Moodle's field name).
MOODLE_IDENTIFIERS = {"email": "Email address", "id_number": "ID number", "username": "Username"}


class LmsError(ValueError):
    """The roster, the results or the options do not fit together; the message lists what to fix."""


@dataclass(frozen=True)
class RosterEntry:
    """One student of the roster (empty strings for columns not given)."""

    submission: str
    name: str = ""
    canvas_id: str = ""
    sis_user_id: str = ""
    sis_login_id: str = ""
    section: str = ""
    email: str = ""
    id_number: str = ""
    username: str = ""


def read_roster(path: Path) -> list[RosterEntry]:
    """Read a roster CSV (UTF-8, a byte-order mark allowed; header names case-insensitive).

    Raises:
        LmsError: unreadable, no ``submission`` column, an unknown column, or a submission name given
            twice (each named with its line).
    """
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LmsError(f"{path} is not UTF-8 ({exc}): save it as 'CSV UTF-8'") from exc
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower().replace(" ", "_") for h in next(reader, [])]
    unknown = [h for h in header if h not in ROSTER_COLUMNS]
    if "submission" not in header or unknown:
        raise LmsError(
            f"{path}: the header must name a 'submission' column and only these: {', '.join(ROSTER_COLUMNS)}"
            + (f" (unknown: {', '.join(unknown)})" if unknown else "")
        )
    entries: dict[str, RosterEntry] = {}
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        values = {h: (row[i].strip() if i < len(row) else "") for i, h in enumerate(header)}
        entry = RosterEntry(**values)
        if not entry.submission:
            raise LmsError(f"{path}, line {line}: the 'submission' cell is empty")
        if entry.submission in entries:
            raise LmsError(f"{path}, line {line}: submission {entry.submission!r} is given twice")
        entries[entry.submission] = entry
    return list(entries.values())


@dataclass
class Export:
    """What an export matched and left empty.

    Attributes:
        files: the files written.
        without_result: roster students with no result for some assignments (empty cells), each as
            ``"name (assignments)"``.
        not_graded: students whose notebook the grader failed on (empty cells; regrade them).
    """

    files: list[Path] = field(default_factory=list)
    without_result: list[str] = field(default_factory=list)
    not_graded: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """What was written, and which cells were left empty and why."""
        lines = [f"wrote {p}" for p in self.files]
        if self.without_result:
            lines.append(
                f"{len(self.without_result)} student(s) of the roster without a submission (empty cells; "
                "set a 0 in the LMS where that is the rule): " + ", ".join(self.without_result)
            )
        if self.not_graded:
            lines.append(
                f"{len(self.not_graded)} submission(s) not graded because the grader failed (empty "
                "cells; run `grade` again, then this export): " + ", ".join(self.not_graded)
            )
        return "\n".join(lines)


def _scores(
    results: Sequence[SubmissionResult], roster: Sequence[RosterEntry], assignments: Sequence[str]
) -> tuple[dict[str, dict[str, str]], Export]:
    """Each roster student's score per assignment as text ('' when none), checking the matching."""
    known = {entry.submission for entry in roster}
    missing = sorted({r.student for r in results} - known)
    if missing:
        raise LmsError(
            f"{len(missing)} graded student(s) are not in the roster (add a row with their submission "
            f"name and LMS identity, or their grades would be lost): {', '.join(missing)}"
        )
    export = Export()
    cells: dict[str, dict[str, str]] = {entry.submission: {} for entry in roster}
    for result in results:
        if result.assignment not in assignments:
            continue
        if result.grader_error:
            export.not_graded.append(f"{result.student} ({result.assignment})")
            continue
        score = min(max(result.score, 0.0), result.max_score)
        cells[result.student][result.assignment] = f"{score:g}" if math.isfinite(score) else ""
    failed = set(export.not_graded)
    for entry in roster:
        absent = [
            a
            for a in assignments
            if a not in cells[entry.submission] and f"{entry.submission} ({a})" not in failed
        ]
        if absent:
            export.without_result.append(f"{entry.submission} ({', '.join(absent)})")
    return cells, export


def _text(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows:
        writer.writerow([spreadsheet_safe(cell) for cell in row])
    return buffer.getvalue()


def canvas_csv(
    results: Sequence[SubmissionResult],
    roster: Sequence[RosterEntry],
    assignment_ids: dict[str, str] | None = None,
) -> tuple[str, Export]:
    """Canvas's gradebook import CSV for ``results`` (one column per assignment graded).

    Args:
        results: the batch grader's results.
        roster: submission names -> Canvas identities.
        assignment_ids: assignment -> Canvas assignment id (in the column name); without one, Canvas
            creates a new assignment with that name on import.

    Raises:
        LmsError: a graded student not in the roster, or a student without a Canvas identity.
    """
    assignments = _assignments(results)
    cells, export = _scores(results, roster, assignments)
    unknown = [e.submission for e in roster if not any(getattr(e, c) for c in CANVAS_IDENTITIES)]
    if unknown:
        raise LmsError(
            f"{len(unknown)} student(s) have no canvas_id, sis_user_id or sis_login_id in the roster, so "
            f"Canvas could not match them: {', '.join(unknown)}"
        )
    ids = assignment_ids or {}
    columns = [f"{a} ({ids[a]})" if ids.get(a) else a for a in assignments]
    rows = [["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *columns]]
    rows.append(["Points Possible", "", "", "", "", *(f"{autograded_points(a):g}" for a in assignments)])
    for entry in roster:
        identity = [entry.name or entry.submission, entry.canvas_id, entry.sis_user_id, entry.sis_login_id]
        rows.append([*identity, entry.section, *(cells[entry.submission].get(a, "") for a in assignments)])
    return _text(rows), export


def moodle_csv(
    results: Sequence[SubmissionResult], roster: Sequence[RosterEntry], identifier: str = "email"
) -> tuple[str, Export]:
    """Moodle's grade-import CSV for ``results``, keyed by the roster's ``identifier`` column.

    Raises:
        LmsError: a graded student not in the roster, an unknown identifier, or a student without it.
    """
    if identifier not in MOODLE_IDENTIFIERS:
        raise LmsError(
            f"unknown Moodle identifier {identifier!r}: use one of {', '.join(MOODLE_IDENTIFIERS)}"
        )
    assignments = _assignments(results)
    cells, export = _scores(results, roster, assignments)
    unknown = [e.submission for e in roster if not getattr(e, identifier)]
    if unknown:
        raise LmsError(
            f"{len(unknown)} student(s) have no {identifier} in the roster, which Moodle would match them "
            f"by: {', '.join(unknown)}"
        )
    rows = [[MOODLE_IDENTIFIERS[identifier], "Full name", *assignments]]
    for entry in roster:
        row = [getattr(entry, identifier), entry.name or entry.submission]
        rows.append([*row, *(cells[entry.submission].get(a, "") for a in assignments)])
    return _text(rows), export


def _assignments(results: Sequence[SubmissionResult]) -> list[str]:
    """The course's assignments that were graded, in the course's order."""
    graded = {r.assignment for r in results}
    return [a for a in NOTEBOOKS if a in graded]


def export_grades(
    results: Sequence[SubmissionResult],
    roster: Sequence[RosterEntry],
    out_dir: Path,
    formats: Sequence[str] = ("canvas", "moodle"),
    assignment_ids: dict[str, str] | None = None,
    identifier: str = "email",
) -> Export:
    """Write ``canvas.csv`` and/or ``moodle.csv`` into ``out_dir`` (each atomically; none when any fails).

    Raises:
        LmsError: see :func:`canvas_csv` and :func:`moodle_csv`; nothing is written then.
    """
    made: dict[str, tuple[str, Export]] = {}
    for name in formats:
        if name == "canvas":
            made[name] = canvas_csv(results, roster, assignment_ids)
        elif name == "moodle":
            made[name] = moodle_csv(results, roster, identifier)
        else:
            raise LmsError(f"unknown format {name!r}: use canvas or moodle")
    export = Export()
    for name, (text, part) in made.items():
        path = Path(out_dir) / f"{name}.csv"
        write_atomic(path, text)
        export.files.append(path)
        export.without_result, export.not_graded = part.without_result, part.not_graded
    return export
