"""Write the batch grader's sandboxed scores into an nbgrader course's gradebook.

``nbgrader autograde`` runs the hidden tests in the student's own kernel, after the student's cells,
so a solution cell that replaces ``autograder.selfcheck.check`` passes every test (see
docs/grading.md, "nbgrader, safely"). The safe path keeps nbgrader's workflow and swaps only who
runs the code: ``python -m autograder grade COURSE/submitted --out OUT`` grades in the sandbox, then
``python -m autograder nbgrader-import OUT --course COURSE`` puts the scores into the gradebook with
nbgrader's own :class:`nbgrader.api.Gradebook`, so formgrader, ``nbgrader generate_feedback`` and
``nbgrader export`` show them.

Steps, plain data between them:

1. :func:`autograder.grading.store.read_results`: ``OUT/results/*.json`` (a damaged file is skipped
   and listed).
2. :func:`_target`: nbgrader's ids of each result. The student is the result's own (the top-level
   folder it was graded from); the notebook is mapped only when the graded file sits at nbgrader's
   place ``submitted/<that student>/<assignment>/<notebook>.ipynb``, so nothing inside one student's
   folder can name another student.
3. :func:`autograder.grading.nbgrader_cells.cell_scores`: one score per code grade cell.
4. :func:`import_results`: each result whose assignment, notebook and student the course knows is
   imported (``update_or_create_submission`` with the ``timestamp.txt`` of the ``submitted/``
   folder, then ``Grade.auto_score`` of each code grade cell, then
   ``autograded/<student>/<assignment>/<notebook>.ipynb``: the submission sanitized by nbgrader's own
   preprocessors, attachments of written answers kept, with the sandbox's verdicts as the grade
   cells' outputs); every other one is listed with the command that fixes it. A file the grader
   accepted under another name (``StyleTransfer (1).ipynb``) is imported as the assignment's
   notebook of that name, with a warning. Nothing of the student's runs here.

Manually graded cells (written answers) are never touched, and a manual score set in formgrader
always wins: ``needs_manual_grade`` stays set where a grader already gave one.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.grading.nbgrader_cells import CellScore, GradeCellInfo, cell_scores
from autograder.grading.results import SubmissionResult
from autograder.notebook_io.files import read_notebook

__all__ = ["GradebookError", "ImportReport", "default_db_url", "import_results"]


class GradebookError(ValueError):
    """The course has no usable gradebook; the message says how to fix it."""


@dataclass
class ImportReport:
    """What :func:`import_results` did.

    Attributes:
        imported: one line per notebook written to the gradebook (student, assignment, score).
        skipped: one line per result not imported, with the reason and the fix (a grader error, an
            assignment, notebook or student the course lacks, an unreadable result file).
        warnings: things to look at that did not stop the import.
    """

    imported: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """Plain-language lines for the terminal."""
        lines = [*self.imported, *(f"skipped: {s}" for s in self.skipped)]
        lines += [f"warning: {w}" for w in self.warnings]
        lines.append(f"{len(self.imported)} notebook(s) imported, {len(self.skipped)} skipped.")
        return "\n".join(lines)


def default_db_url(course_dir: Path) -> str:
    """nbgrader's default gradebook of a course: ``sqlite:///COURSE/gradebook.db``."""
    return f"sqlite:///{Path(course_dir).resolve() / 'gradebook.db'}"


@dataclass(frozen=True)
class _Target:
    result: SubmissionResult
    student: str
    assignment: str
    notebook: str
    submitted: Path | None


def _target(result: SubmissionResult, course_dir: Path) -> _Target:
    """nbgrader's ids of a result: the result's own student, and the assignment and notebook of its
    file when that sits at ``submitted/<student>/<assignment>/<notebook>.ipynb``.

    Only the last four parts of the graded path are read, so results graded from a relative path or
    another copy of the course still find their notebook in ``course_dir``, and a copy planted deeper
    in a student's folder (``mallory/x/submitted/alice/...``) is never taken for another student's.
    Elsewhere (zips, nested copies, a plain folder) the grader's own assignment name is used, without
    an autograded copy.
    """
    parts = Path(result.source).parts
    if len(parts) >= 4 and parts[-4] == "submitted" and parts[-3] == result.student:
        assignment, notebook = parts[-2], Path(parts[-1]).stem
        submitted = course_dir / "submitted" / result.student / assignment / parts[-1]
        return _Target(
            result, result.student, assignment, notebook, submitted if submitted.is_file() else None
        )
    return _Target(result, result.student, result.assignment or "", result.assignment or "", None)


def _checked(gb, t: _Target, create_students: bool) -> tuple[_Target | None, str]:
    """The target as the course knows it, or ``None`` and why it cannot be imported (with the fix).

    A notebook name the assignment lacks (``StyleTransfer (1)``) becomes the assignment's notebook
    named like the graded assignment, when there is one; the caller warns about it.
    """
    from nbgrader.api import MissingEntry

    who = f"{t.student}/{t.assignment or '?'}"
    try:
        assignment = gb.find_assignment(t.assignment)
    except MissingEntry:
        return None, (
            f"{who}: assignment {t.assignment!r} is not in the gradebook: run `nbgrader "
            f"generate_assignment {t.assignment}` in the course folder first, then import again"
        )
    names = [nb.name for nb in assignment.notebooks]
    if t.notebook not in names:
        if t.result.assignment not in names:
            return None, (
                f"{who}: notebook {t.notebook!r} is not part of assignment {t.assignment!r} (its "
                f"notebooks: {', '.join(names) or 'none'}): name the submitted file like the source "
                f"notebook, or add it to source/{t.assignment}/ and rerun generate_assignment"
            )
        t = _Target(t.result, t.student, t.assignment, str(t.result.assignment), t.submitted)
    if not create_students:
        try:
            gb.find_student(t.student)
        except MissingEntry:
            return None, (
                f"{who}: student {t.student!r} is not in the gradebook: add them with `nbgrader db "
                f"student add {t.student}` (or `nbgrader db student import FILE.csv`), or pass "
                "--create-students as `nbgrader autograde` does by default"
            )
    return t, ""


def _grade_cells(gb, notebook: str, assignment: str) -> list[GradeCellInfo]:
    """The code grade cells of a notebook, with the source nbgrader saved from the source notebook."""
    cells = []
    for cell in gb.find_notebook(notebook, assignment).grade_cells:
        if cell.cell_type != "code":
            continue  # written answers: graded by hand in formgrader
        source = gb.find_source_cell(cell.name, notebook, assignment).source
        cells.append(GradeCellInfo(cell.name, source or "", float(cell.max_score)))
    return cells


def _autograded_notebook(
    target: _Target, db_url: str, scores: Sequence[CellScore]
) -> tuple[nbformat.NotebookNode | None, list[str]]:
    """The submission sanitized by nbgrader's autograde preprocessors, verdicts as grade-cell outputs."""
    from nbgrader.preprocessors import (
        CheckCellMetadata,
        ClearOutput,
        DeduplicateIds,
        OverwriteCells,
        OverwriteKernelspec,
    )

    if target.submitted is None:
        return None, [f"{target.student}/{target.assignment}: not from COURSE/submitted/, no autograded copy"]
    nb, problems = read_notebook(target.submitted, keep_attachments=True)  # pasted images survive
    if nb is None:
        return None, [f"{target.student}/{target.assignment}: no autograded copy: {'; '.join(problems)}"]
    resources = {
        "nbgrader": {
            "notebook": target.notebook,
            "assignment": target.assignment,
            "student": target.student,
            "db_url": db_url,
        }
    }
    # the order of `nbgrader autograde`'s sanitize step; OverwriteCells restores every locked cell
    for preprocessor in (ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells, CheckCellMetadata):
        try:
            nb, resources = preprocessor().preprocess(nb, resources)
        except Exception as exc:  # nbgrader raises its own errors on malformed cell metadata
            return None, [
                f"{target.student}/{target.assignment}: no autograded copy: {preprocessor.__name__}: {exc}"
            ]
    texts = {s.grade_id: s.text for s in scores}
    for cell in nb.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if cell.cell_type == "code" and grade_id in texts:
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=texts[grade_id])]
    return nb, []


def _open_gradebook(db_url: str):
    from nbgrader.api import Gradebook

    if db_url.startswith("sqlite:///") and not Path(db_url.removeprefix("sqlite:///")).is_file():
        raise GradebookError(
            f"no nbgrader gradebook at {db_url.removeprefix('sqlite:///')}: run `nbgrader "
            "generate_assignment NAME` in the course folder first, or pass --db with the course's "
            "CourseDirectory.db_url"
        )
    return Gradebook(db_url)


def import_results(
    results: Sequence[SubmissionResult],
    course_dir: Path,
    db_url: str | None = None,
    *,
    create_students: bool = False,
) -> ImportReport:
    """Write sandboxed results into an nbgrader course: gradebook scores and autograded notebooks.

    Imports what it can and lists what it could not: a result whose assignment, notebook or student
    the course lacks is skipped with the command that fixes it, the others are imported.

    Args:
        results: from :func:`autograder.grading.store.read_results` (a grading of ``COURSE/submitted``).
        course_dir: the nbgrader course root (holds ``source/``, ``submitted/``, ``autograded/``).
        db_url: the gradebook (default :func:`default_db_url`); it must exist.
        create_students: add students the gradebook lacks (as ``nbgrader autograde`` does by default)
            instead of skipping them.

    Returns:
        What was imported and skipped. Results the grader failed on (``grader_error``) are skipped,
        never written as a score.

    Raises:
        GradebookError: when the gradebook is missing; nothing is written then.
    """
    from nbgrader.coursedir import CourseDirectory
    from sqlalchemy.exc import SAWarning

    course_dir = Path(course_dir).resolve()
    db_url = db_url or default_db_url(course_dir)
    report = ImportReport()
    targets = []
    for result in results:
        if result.grader_error:
            report.skipped.append(f"{result.student}/{result.assignment}: not graded ({result.grader_error})")
        else:
            targets.append(_target(result, course_dir))
    coursedir = CourseDirectory(root=str(course_dir))
    with _open_gradebook(db_url) as gb, warnings.catch_warnings():
        # nbgrader's add_submission trips SQLAlchemy's autoflush warnings; they mean nothing here
        warnings.simplefilter("ignore", SAWarning)
        for found in targets:
            t, why = _checked(gb, found, create_students)
            if t is None:
                report.skipped.append(why)
                continue
            if t.notebook != found.notebook:
                report.warnings.append(
                    f"{t.student}/{t.assignment}: {found.notebook}.ipynb imported as notebook {t.notebook}"
                )
            report.imported.append(_import_one(gb, t, coursedir, db_url, report))
    return report


def _import_one(gb, t: _Target, coursedir, db_url: str, report: ImportReport) -> str:
    """Write one checked target: submission row, code cells' scores, autograded copy; its summary line."""
    gb.update_or_create_student(t.student)
    timestamp = coursedir.get_existing_timestamp(str(t.submitted.parent)) if t.submitted else None
    if timestamp:
        gb.update_or_create_submission(t.assignment, t.student, timestamp=timestamp)
    else:
        gb.update_or_create_submission(t.assignment, t.student)
    scores, notes = cell_scores(t.result, _grade_cells(gb, t.notebook, t.assignment))
    report.warnings += [f"{t.student}/{t.assignment}: {w}" for w in notes]
    for score in scores:
        grade = gb.find_grade(score.grade_id, t.notebook, t.assignment, t.student)
        grade.auto_score = score.auto_score
        grade.needs_manual_grade = grade.manual_score is not None  # a grader's score wins
    gb.db.commit()
    nb, problems = _autograded_notebook(t, db_url, scores)
    report.warnings += problems
    if nb is not None:
        target = Path(coursedir.format_path(coursedir.autograded_directory, t.student, t.assignment))
        target.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target / f"{t.notebook}.ipynb")
        if t.submitted is not None and (t.submitted.parent / "timestamp.txt").is_file():
            shutil.copyfile(t.submitted.parent / "timestamp.txt", target / "timestamp.txt")  # as autograde
    total = sum(s.auto_score for s in scores)
    available = sum(s.max_score for s in scores)
    return f"{t.student}/{t.assignment}/{t.notebook}: {total:g}/{available:g} code points"
