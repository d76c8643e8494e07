"""Canvas and Moodle grade files, checked against the layouts their import pages document.

Canvas (Grades > Import, the layout of its own gradebook export): a header ``Student, ID, SIS User
ID, SIS Login ID, Section`` then one column per assignment named ``Name (id)``, a ``Points Possible``
row, one row per student matched by ID / SIS User ID / SIS Login ID. Moodle (Grades > Import > CSV
file): a header, an identifier column chosen as *Map from* (``Email address``, ``ID number`` or
``Username``), one column per grade item. Both UTF-8, comma-separated.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from autograder.cli import main
from autograder.grading.lms import LmsError, canvas_csv, export_grades, moodle_csv, read_roster
from autograder.grading.results import SubmissionResult
from autograder.grading.store import result_stem, write_atomic

NV, ST = "NetworkVisualization", "StyleTransfer"

ROSTER = """submission,name,canvas_id,sis_user_id,sis_login_id,section,email,id_number,username
alice,"Liddell, Alice",101,S-001,aliddell,Section 1,alice@uni.edu,2023001,aliddell
zoe,Zoë Ñúñez,102,S-002,znunez,Section 2,zoe@uni.edu,2023002,znunez
=cmd,Mallory,103,S-003,mallory,Section 2,mallory@uni.edu,2023003,mallory
nobody,Never Submitted,104,S-004,nsub,Section 1,nobody@uni.edu,2023004,nsub
"""


def _results() -> list[SubmissionResult]:
    return [
        SubmissionResult("alice", NV, 12.0, 12.0),
        SubmissionResult("alice", ST, 9.5, 11.0),
        SubmissionResult("zoe", ST, 11.0, 11.0),
        SubmissionResult("zoe", NV, 0.0, 12.0, grader_error="the template did not start"),
        SubmissionResult("=cmd", ST, 3.0, 11.0),
    ]


def _roster(tmp_path: Path, text: str = ROSTER, encoding: str = "utf-8") -> Path:
    path = tmp_path / "roster.csv"
    path.write_bytes(text.encode(encoding))
    return path


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_canvas_file_has_canvas_columns_points_row_and_one_row_per_student(tmp_path: Path) -> None:
    """Is the Canvas file Canvas's gradebook layout: identity columns, 'Name (id)' assignment columns, a
    Points Possible row, every roster student once, empty (never 0) where there is no grade?"""
    text, export = canvas_csv(_results(), read_roster(_roster(tmp_path)), {ST: "48213"})
    rows = _rows(text)
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", NV, f"{ST} (48213)"]
    assert rows[1] == ["Points Possible", "", "", "", "", "12", "11"]
    body = {row[1]: row for row in rows[2:]}
    assert body["101"] == ["Liddell, Alice", "101", "S-001", "aliddell", "Section 1", "12", "9.5"]
    assert body["102"] == ["Zoë Ñúñez", "102", "S-002", "znunez", "Section 2", "", "11"]  # NV: not graded
    assert body["104"][5:] == ["", ""]  # never submitted: left for the instructor, not 0
    assert body["103"][0] == "Mallory" and len(rows) == 2 + 4
    assert export.not_graded == [f"zoe ({NV})"]
    assert export.without_result == [f"=cmd ({NV})", f"nobody ({NV}, {ST})"]


def test_moodle_file_is_keyed_by_the_chosen_identifier(tmp_path: Path) -> None:
    """Is the Moodle file an identifier column named as Moodle's user field, then one column per grade
    item, for each identifier Moodle can map to?"""
    roster = read_roster(_roster(tmp_path))
    for identifier, header, alice in (
        ("email", "Email address", "alice@uni.edu"),
        ("id_number", "ID number", "2023001"),
        ("username", "Username", "aliddell"),
    ):
        rows = _rows(moodle_csv(_results(), roster, identifier)[0])
        assert rows[0] == [header, "Full name", NV, ST]
        assert rows[1] == [alice, "Liddell, Alice", "12", "9.5"]
    with pytest.raises(LmsError, match="email, id_number, username"):
        moodle_csv(_results(), roster, "student_number")


def test_files_are_utf8_and_spreadsheet_safe(tmp_path: Path) -> None:
    """Written as UTF-8 (accents intact, a roster with a byte-order mark read), with a name that starts
    like a formula made inert?"""
    export = export_grades(_results(), read_roster(_roster(tmp_path, "\ufeff" + ROSTER)), tmp_path)
    assert [p.name for p in export.files] == ["canvas.csv", "moodle.csv"]
    for path in export.files:
        text = path.read_bytes().decode("utf-8")
        assert "Zoë Ñúñez" in text and not text.startswith("\ufeff")
    canvas = _rows((tmp_path / "canvas.csv").read_text(encoding="utf-8"))
    assert all(not row[0].startswith("=") for row in canvas)


def test_a_graded_student_missing_from_the_roster_stops_the_export_and_is_named(tmp_path: Path) -> None:
    """A submission the roster does not know: is nothing written, and does the error name every such
    student and say that they are missing from the roster?"""
    results = [*_results(), SubmissionResult("bob", ST, 11.0, 11.0), SubmissionResult("carol", NV, 1.0, 12.0)]
    with pytest.raises(LmsError, match=r"2 graded student\(s\) are not in the roster.*: bob, carol"):
        export_grades(results, read_roster(_roster(tmp_path)), tmp_path)
    assert not (tmp_path / "canvas.csv").exists() and not (tmp_path / "moodle.csv").exists()


def test_a_student_without_the_identity_a_format_needs_is_named(tmp_path: Path) -> None:
    """A roster row Canvas (or Moodle) could not match: is the export refused, naming the student?"""
    roster = read_roster(_roster(tmp_path, "submission,name,email\nalice,Alice,\nzoe,Zoë,zoe@uni.edu\n"))
    with pytest.raises(LmsError, match=r"no canvas_id, sis_user_id or sis_login_id.*alice, zoe"):
        canvas_csv(_results()[:3], roster)
    with pytest.raises(LmsError, match=r"no email in the roster.*: alice$"):
        moodle_csv(_results()[:3], roster)


def test_roster_mistakes_are_explained(tmp_path: Path) -> None:
    """An unknown column, a missing submission column, a duplicate or a non-UTF-8 file: is each refused
    with what to fix?"""
    with pytest.raises(LmsError, match="unknown: grade"):
        read_roster(_roster(tmp_path, "submission,grade\nalice,3\n"))
    with pytest.raises(LmsError, match="'submission' column"):
        read_roster(_roster(tmp_path, "name,email\nAlice,a@b\n"))
    with pytest.raises(LmsError, match="line 3: submission 'alice' is given twice"):
        read_roster(_roster(tmp_path, "submission\nalice\nalice\n"))
    with pytest.raises(LmsError, match=r"not UTF-8.*CSV UTF-8"):
        read_roster(_roster(tmp_path, "submission,name\nzoe,Zoë\n", encoding="latin-1"))


def test_command_writes_both_files_or_explains(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Does `python -m autograder lms OUT --roster R` write canvas.csv and moodle.csv from OUT/results,
    list the empty cells, and exit 2 with the names when the roster lacks a student?"""
    out = tmp_path / "out"
    for result in _results():
        write_atomic(
            out / "results" / f"{result_stem(result.student, result.assignment)}.json", result.to_json()
        )
    roster = _roster(tmp_path)
    code = main(["lms", str(out), "--roster", str(roster), "--canvas-assignment", f"{ST}=48213"])
    printed = capsys.readouterr().out
    assert code == 1  # a notebook the grader failed on: regrade it
    assert f"{ST} (48213)" in (out / "canvas.csv").read_text(encoding="utf-8")
    assert "2 student(s) of the roster without a submission" in printed and f"nobody ({NV}, {ST})" in printed
    assert (
        f"not graded because the grader failed (empty cells; run `grade` again, then this export): zoe ({NV})"
        in printed
    )
    roster.write_text("submission,canvas_id,email\nalice,1,a@b\n", encoding="utf-8")
    assert main(["lms", str(out), "--roster", str(roster)]) == 2
    assert "are not in the roster" in capsys.readouterr().err
