"""The batch never aborts: malformed inputs at every stage cost only their own submission (fast).

Student code does not run here: the sandbox is replaced by a fake that answers from markers in the
notebook's code, so discovery, reading, extraction, every check and every report writer are the
real ones, and a stage made to raise (monkeypatched) stands for any bug or odd input there.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder import batch_outputs
from autograder.batch_outputs import grade_path
from autograder.functions import FUNCTIONS, autograded_points, function_names
from autograder.grading import batch, notebook, reports, submission
from autograder.grading.results import SubmissionResult
from autograder.grading.store import result_stem
from autograder.runner import CallOutcome
from autograder.settings import GradingSettings, InputCaps
from tests.helpers.notebooks import REPO

ST = "StyleTransfer"
ST_FUNCTIONS = function_names(ST)


class FakeSandbox:
    """Stands in for the sandbox: every call's outcome is chosen by a marker in the student's code."""

    def __init__(self, chunks, limits=None, *, hide=(), isolate=True, course_roots=()) -> None:
        self.code = "\n".join(c.code for c in chunks)
        self.setup_problems: list[str] = []
        self.grader_error = None
        self.protections = {"pid_namespace": "on"}

    @staticmethod
    def warm() -> None:
        """No template to start."""

    def __enter__(self) -> FakeSandbox:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def run(self, function: str, call) -> CallOutcome:
        if "RETURN_HUGE" in self.code:
            return CallOutcome("ok", value=10**400)  # float(value) overflows in the checks
        if "RETURN_LIST" in self.code:
            return CallOutcome("ok", value=[[1, 2], "x"], args={0: {"value": [1], "grad": "no"}})
        if "CHECK_BOOM" in self.code:
            return CallOutcome("ok", value=0.0, message="CHECK_BOOM")
        return CallOutcome("missing", message=f"{function} is not defined")


def _nb(*sources: str) -> nbformat.NotebookNode:
    return new_notebook(cells=[new_code_cell(s) for s in sources])


def _write(root: Path, student: str, nb: nbformat.NotebookNode | bytes, name: str = f"{ST}.ipynb") -> Path:
    path = root / student / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(nb, bytes):
        path.write_bytes(nb)
    else:
        nbformat.write(nb, path)
    return path


@pytest.fixture
def fake_grading(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real pipeline, fake sandbox, no model; checks and writers raise for marked submissions."""
    monkeypatch.setattr(notebook, "Sandbox", FakeSandbox)
    monkeypatch.setattr(batch, "Sandbox", FakeSandbox)

    for function in ST_FUNCTIONS:
        check = FUNCTIONS[function]
        original = check.grade

        def grade(outcomes, ref, ctx, _original=original):
            if any(o.message == "CHECK_BOOM" for o in outcomes):
                raise ZeroDivisionError("a check's bug")
            return _original(outcomes, ref, ctx)

        monkeypatch.setattr(check, "grade", grade)

    real_extract = notebook.extract_student_code

    def extract(nb, names=()):
        if any("EXTRACT_BOOM" in c.get("source", "") for c in nb.cells):
            raise RecursionError("extraction's bug")
        return real_extract(nb, names)

    monkeypatch.setattr(notebook, "extract_student_code", extract)
    real_discover = submission._discover_one

    def discover(path, student, assignment, caps, place):
        if student == "discover_boom":
            raise UnicodeError("a reader's bug")
        return real_discover(path, student, assignment, caps, place)

    monkeypatch.setattr(submission, "_discover_one", discover)
    for name in ("feedback_markdown", "feedback_html"):
        real = getattr(reports, name)

        def writer(result, _real=real, _name=name):
            if result.student == f"{_name}_boom":
                raise MemoryError(f"{_name}'s bug")
            return _real(result)

        monkeypatch.setattr(reports, name, writer)
    real_gradescope = batch_outputs.gradescope_results

    def gradescope(results):
        if any(r.student == "gradescope_boom" for r in results):
            raise OverflowError("gradescope's bug")
        return real_gradescope(results)

    monkeypatch.setattr(batch_outputs, "gradescope_results", gradescope)
    real_gradebook = reports.gradebook_csv

    def gradebook(results):
        if any(r.student == "gradebook_boom" and r.checks for r in results):  # odd data in its checks
            raise ValueError("a gradebook row's bug")
        return real_gradebook(results)

    monkeypatch.setattr(reports, "gradebook_csv", gradebook)


def _hostile_tree(root: Path) -> set[str]:
    """Malformed inputs at each stage, beside good ones; returns every student that must get a row."""
    stub = nbformat.read(REPO / "notebooks" / f"{ST}.ipynb", as_version=4)
    for student in (
        "good",
        "feedback_markdown_boom",
        "feedback_html_boom",
        "gradescope_boom",
        "gradebook_boom",
    ):
        _write(root, student, stub)
    _write(root, "discover_boom", stub)
    # reading
    _write(root, "not_json", b"{ nope")
    _write(root, "empty", b"")
    _write(root, "many_cells", _nb(*(["x = 1"] * 60)))
    meta = _nb("def gram_matrix(x):\n    return x")
    meta.cells[0].metadata["nbgrader"] = "solution"  # a string, not a dict
    _write(root, "string_metadata", meta)
    (root / "fifo").mkdir(parents=True)
    os.mkfifo(root / "fifo" / f"{ST}.ipynb")
    (root / "link").mkdir()
    (root / "link" / f"{ST}.ipynb").symlink_to(REPO / "solutions" / f"{ST}.ipynb")
    (root / "linked_folder").symlink_to(REPO / "solutions", target_is_directory=True)
    weird = Path(os.fsdecode(os.path.join(os.fsencode(root), b"caf\xe9-\xff")))
    _write(weird.parent, weird.name, stub)
    (root / "bomb").mkdir()
    with zipfile.ZipFile(root / "bomb" / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{ST}.ipynb", b"{" + b" " * (4 * 2**20))
    # content no later step could read: the student's problem, never a grader error
    _write(root, "deep_sum", _nb("def gram_matrix(x):\n    return x", "y = " + " + ".join(["1"] * 4000)))
    surrogate = json.dumps(_nb("def gram_matrix(x):\n    return 'PLACEHOLDER'")).replace(
        "PLACEHOLDER", "\\ud800"
    )
    _write(root, "lone_surrogate", surrogate.encode())
    _write(root, "cr_only", _nb("def gram_matrix(x):\r    y = x\r    return y\r"))
    # extraction and checks
    _write(root, "extract_boom", _nb("# EXTRACT_BOOM"))
    _write(root, "huge_return", _nb("def RETURN_HUGE():\n    pass"))
    _write(root, "forged_list", _nb("def RETURN_LIST():\n    pass"))
    _write(root, "check_boom", _nb("def CHECK_BOOM():\n    pass"))
    return {
        "good", "feedback_markdown_boom", "feedback_html_boom", "gradescope_boom", "gradebook_boom",
        "discover_boom", "not_json", "empty", "many_cells", "string_metadata", "fifo", "link",
        weird.name, "bomb", "extract_boom", "huge_return", "forged_list", "check_boom",
        "deep_sum", "lone_surrogate", "cr_only",
    }  # fmt: skip


def test_malformed_inputs_at_every_stage_cost_only_their_submission(tmp_path: Path, fake_grading) -> None:
    """Does the batch complete, with a row for every student and every other result intact, when
    discovery, reading, extraction, a check or a report writer fails for one submission?"""
    root = tmp_path / "subs"
    students = _hostile_tree(root)
    out = tmp_path / "out"
    (out / ".submissions").mkdir(parents=True)  # left by an older version: removed
    (out / ".submissions" / "unpacked.ipynb").write_bytes(b"x" * 2**20)
    settings = GradingSettings("public", caps=InputCaps(cells=50, zip_unpacked_bytes=2**20))
    signal.alarm(120)  # a FIFO that were opened would hang here
    try:
        run = grade_path(root, out, settings, workers=1, progress=False)
    finally:
        signal.alarm(0)
    by_student = {r.student: r for r in run.results}
    assert set(by_student) == students
    assert not (out / ".submissions").exists()
    # results on disk, one per student
    assert len(list((out / "results").glob("*.json"))) == len(students)
    # the good ones are untouched by their neighbours
    for student in (
        "good",
        "feedback_markdown_boom",
        "feedback_html_boom",
        "gradescope_boom",
        "gradebook_boom",
    ):
        result = by_student[student]
        assert not result.grader_error and [c.function for c in result.checks] == list(ST_FUNCTIONS)
        assert {c.status for c in result.checks} == {"missing"}
    # what is wrong is named, for that submission alone
    expect = {
        "discover_boom": "a reader's bug",
        "not_json": "not valid JSON",
        "empty": "empty file",
        "many_cells": "60 cells, more than the 50 accepted",
        "fifo": "not a regular file (a FIFO)",
        "link": "symbolic link",
        "bomb": "unpacks to more than 1 MB",
    }
    for student, words in expect.items():
        assert any(words in p for p in by_student[student].problems), (student, by_student[student].problems)
        assert by_student[student].score == 0 and not by_student[student].grader_error
    assert by_student["extract_boom"].grader_error.startswith("RecursionError")
    assert any("nested too deeply" in p for p in by_student["deep_sum"].problems)
    assert any("not valid Unicode" in p for p in by_student["lone_surrogate"].problems)
    for student in ("deep_sum", "lone_surrogate", "cr_only"):  # gram_matrix found in each
        result = by_student[student]
        assert not result.grader_error and result.checks, student
        assert not any("gram_matrix is not defined" in p for p in result.problems), (student, result.problems)
    assert [r.student for r in run.results if r.grader_error] == ["extract_boom"]
    for student in ("huge_return", "forged_list", "check_boom"):
        assert {c.status for c in by_student[student].checks} == {"failed"}, student
    assert all("could not judge" in c.message for c in by_student["check_boom"].checks)
    assert any("OverflowError" in c.message for c in by_student["huge_return"].checks)
    assert by_student["string_metadata"].checks and not by_student["string_metadata"].grader_error
    # the gradebook has every student; a row that cannot be written says so instead of vanishing
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO((out / "gradebook.csv").read_text()))}
    assert set(rows) == {s.encode("utf-8", "backslashreplace").decode() for s in students}
    assert rows["gradebook_boom"]["total"] == reports.NOT_GRADED
    assert rows["good"]["total"] == "0" and rows["extract_boom"]["total"] == reports.NOT_GRADED
    errors = (out / "report-errors.txt").read_text()
    for words in (
        "feedback_markdown's bug",
        "feedback_html's bug",
        "gradescope's bug",
        "a gradebook row's bug",
    ):
        assert words in errors
    feedback = {p.name for p in (out / "feedback").iterdir()}
    assert (
        f"{result_stem('good', ST)}.md" in feedback
        and f"{result_stem('feedback_markdown_boom', ST)}.html" in feedback
    )
    assert f"{result_stem('feedback_markdown_boom', ST)}.md" not in feedback
    # a rerun reads everything back (non-UTF-8 names included) and regrades only the grader error
    again = grade_path(root, out, settings, workers=1, progress=False)
    assert again.graded == 1 and {r.student for r in again.results} == students


_REAL_JOB = batch._grade_job


def _killing_job(job):
    """A worker's job that kills the worker process for the student ``killer``."""
    if job.submission.student == "killer":
        os._exit(9)
    return _REAL_JOB(job)


def test_a_dead_worker_is_a_grader_error_for_its_submission(tmp_path: Path, monkeypatch) -> None:
    """Does a worker process that dies give grader errors (retried on rerun) instead of aborting?"""
    monkeypatch.setattr(batch, "Sandbox", FakeSandbox)
    monkeypatch.setattr(batch, "_grade_job", _killing_job)
    monkeypatch.setattr(notebook, "Sandbox", FakeSandbox)
    root = tmp_path / "subs"
    stub = nbformat.read(REPO / "notebooks" / f"{ST}.ipynb", as_version=4)
    for student in ("killer", "other"):
        _write(root, student, stub)
    run = grade_path(root, tmp_path / "out", GradingSettings("public"), workers=2, progress=False)
    by_student = {r.student: r for r in run.results}
    assert set(by_student) == {"killer", "other"}
    assert "BrokenProcessPool" in by_student["killer"].grader_error
    assert (tmp_path / "out" / "gradebook.csv").is_file()


def test_same_looking_names_never_collide_and_duplicates_resolve_by_name(
    tmp_path: Path, fake_grading
) -> None:
    """Do `Mary Jane` and `Mary_Jane` get their own rows, and `StyleTransfer (1).ipynb` beside
    `StyleTransfer.ipynb` one result (the exact name, whatever the file times), the other listed,
    never above the maximum?"""
    root = tmp_path / "subs"
    stub = nbformat.read(REPO / "notebooks" / f"{ST}.ipynb", as_version=4)
    nbformat.write(stub, root.mkdir() or root / "Mary Jane.ipynb")
    nbformat.write(stub, root / "Mary_Jane.ipynb")
    old = _write(root, "ann", stub)
    new = _write(root, "ann", _nb("def RETURN_HUGE():\n    pass"), name=f"{ST} (1).ipynb")
    os.utime(old, (1_000_000, 1_000_000))
    os.utime(new, (2_000_000, 2_000_000))  # newer, but not the exact name
    run = grade_path(root, tmp_path / "out", GradingSettings("public"), workers=1, progress=False)
    by_student = {r.student: r for r in run.results}
    assert sorted(by_student) == ["Mary Jane", "Mary_Jane", "ann"]
    assert len(list((tmp_path / "out" / "results").glob("*.json"))) == 3
    ann = by_student["ann"]
    assert ann.source == str(old) and any(f"not: {ST} (1).ipynb" in p for p in ann.problems)
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out" / "gradebook.csv").read_text())))
    assert [r["student"] for r in rows] == ["Mary Jane", "Mary_Jane", "ann"]
    assert all(float(r["total"]) <= float(r["max_total"]) == autograded_points(ST) for r in rows)


def test_gradebook_never_exceeds_the_maximum_and_escapes_formulas() -> None:
    """Are inflated or duplicated results clamped, and names starting with = + - @ made inert?"""
    from autograder.grading.results import CheckResult

    def result(student: str, score: float) -> SubmissionResult:
        checks = [CheckResult(f, "public", 99.0, FUNCTIONS[f].points, "passed", "") for f in ST_FUNCTIONS]
        return SubmissionResult(student, ST, score, autograded_points(ST), checks)

    names = ['=HYPERLINK("x")', "+1", "-1", "@SUM(A1)", "plain"]
    text = reports.gradebook_csv([result(n, 22.0) for n in names] + [result("plain", 22.0)])
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO(text))}
    assert set(rows) == {"'" + n for n in names[:4]} | {"plain"}
    for row in rows.values():
        assert float(row["total"]) == float(row["max_total"]) == autograded_points(ST)
        assert all(float(row[f]) == FUNCTIONS[f].points for f in ST_FUNCTIONS)
    summary = batch_outputs.gradescope_results([result("x", 1e9)])
    assert summary["score"] == autograded_points(ST)


def test_results_round_trip_non_utf8_names_and_refuse_wrong_types() -> None:
    """Does a surrogate-bearing name survive JSON (ASCII, strict), and a mistyped field raise TypeError?"""
    result = SubmissionResult("caf\udce9", ST, 1.0, 11.0)
    text = result.to_json()
    assert text.isascii() and SubmissionResult.from_json(text) == result
    data = json.loads(text)
    data["score"] = "lots"
    with pytest.raises(TypeError):
        SubmissionResult.from_json(json.dumps(data))


def test_a_rerun_regrades_a_mistyped_result_with_a_warning(tmp_path: Path, fake_grading) -> None:
    """Does `grade` rerun past a result file with a field of the wrong kind (it crashed writing the
    class report), grading that submission again and saying so?"""
    root = tmp_path / "subs"
    stub = nbformat.read(REPO / "notebooks" / f"{ST}.ipynb", as_version=4)
    for student in ("ann", "bo"):
        _write(root, student, stub)
    out = tmp_path / "out"
    grade_path(root, out, GradingSettings("public"), workers=1, progress=False)
    path = out / "results" / f"{result_stem('ann', ST)}.json"
    data = json.loads(path.read_text())
    data["protections"] = ["not", "a", "table"]
    path.write_text(json.dumps(data))
    again = grade_path(root, out, GradingSettings("public"), workers=1, progress=False)
    assert again.graded == 1 and again.skipped == 1
    assert len(again.warnings) == 1 and path.name in again.warnings[0]
    assert isinstance(SubmissionResult.from_json(path.read_text()).protections, dict)
    assert (out / "report.html").is_file()
