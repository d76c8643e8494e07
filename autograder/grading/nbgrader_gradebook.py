"""Write the batch grader's sandboxed scores into an nbgrader course's gradebook.

``nbgrader autograde`` runs the hidden tests in the student's own kernel, after the student's cells,
so a solution cell that replaces ``autograder.selfcheck.check`` passes every test (see
docs/grading.md, "nbgrader, safely"). The safe path keeps nbgrader's workflow and swaps only who
runs the code: ``python -m autograder grade COURSE/submitted --out OUT`` grades in the sandbox, then
``python -m autograder nbgrader-import OUT --course COURSE`` puts the scores into the gradebook with
nbgrader's own :class:`nbgrader.api.Gradebook`, so formgrader, ``nbgrader generate_feedback`` and
``nbgrader export`` show them.

Steps, plain data between them:

1. :func:`read_results`: ``OUT/results/*.json`` -> :class:`~autograder.grading.results.SubmissionResult`.
2. :func:`cell_functions`: which graded functions a grade cell checks, read from the cell's source
   as nbgrader stored it from the source notebook (``check("gram_matrix", ...)``).
3. :func:`cell_scores`: one :class:`CellScore` per code grade cell, the cell's points scaled by the
   fraction of the sandboxed points its functions earned (partial credit is kept).
4. :func:`import_results`: checks that the course knows every assignment, notebook and student
   (nothing is written otherwise), creates the submission rows as ``nbgrader autograde`` does
   (``update_or_create_submission``, with the ``timestamp.txt`` of the ``submitted/`` folder), sets
   ``Grade.auto_score`` of each code grade cell, and writes ``autograded/<student>/<assignment>/
   <notebook>.ipynb``: the submission sanitized by nbgrader's own preprocessors (``ClearOutput``,
   ``DeduplicateIds``, ``OverwriteKernelspec``, ``OverwriteCells``, ``CheckCellMetadata``), with
   the sandbox's verdicts as the grade cells' outputs. Nothing of the student's runs here.

Manually graded cells (written answers) are never touched, and a manual score set in formgrader
always wins: ``needs_manual_grade`` stays set where a grader already gave one.
"""

from __future__ import annotations

import re
import shutil
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.grading.notebook_file import read_notebook
from autograder.grading.results import CheckResult, SubmissionResult

__all__ = [
    "CellScore",
    "GradeCellInfo",
    "GradebookError",
    "ImportReport",
    "cell_functions",
    "cell_scores",
    "course_private_paths",
    "default_db_url",
    "import_results",
    "read_results",
]

#: A graded cell's call of the check: ``check("gram_matrix", gram_matrix)`` (hidden or not).
_CHECK_CALL = re.compile(r"""\bcheck\(\s*["'](\w+)["']""")
#: First line of each grade cell's output in the autograded notebook.
VERDICT_HEADER = "Graded by the isolated batch grader (python -m autograder grade), not in this kernel."


class GradebookError(ValueError):
    """The course or its gradebook does not match the results; the message says how to fix it."""


@dataclass(frozen=True)
class GradeCellInfo:
    """A code grade cell as nbgrader's gradebook holds it.

    Attributes:
        name: the cell's ``grade_id``, e.g. ``"test_gram_matrix"``.
        source: the cell's source from the source notebook (hidden tests included).
        max_score: the cell's ``points``.
    """

    name: str
    source: str
    max_score: float


@dataclass
class CellScore:
    """The sandboxed score of one code grade cell.

    Attributes:
        grade_id: the grade cell's ``grade_id``.
        functions: the graded functions the cell checks.
        auto_score: points for ``Grade.auto_score``, in ``[0, max_score]``.
        max_score: the cell's points in nbgrader.
        text: the verdicts, written as the cell's output in the autograded notebook.
    """

    grade_id: str
    functions: list[str]
    auto_score: float
    max_score: float
    text: str


@dataclass
class ImportReport:
    """What :func:`import_results` did.

    Attributes:
        imported: one line per notebook written to the gradebook (student, assignment, score).
        skipped: one line per result not imported, with the reason (e.g. a grader error).
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


def read_results(out_dir: Path) -> list[SubmissionResult]:
    """The results the batch grader wrote to ``out_dir/results/*.json``, sorted by file name.

    Raises:
        GradebookError: when there are none.
    """
    folder = Path(out_dir) / "results"
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if not files:
        raise GradebookError(
            f"no results in {folder}: grade first with "
            f"`python -m autograder grade COURSE/submitted --out {out_dir}`"
        )
    return [SubmissionResult.from_json(p.read_text(encoding="utf-8")) for p in files]


def cell_functions(source: str) -> list[str]:
    """The graded functions a grade cell checks, in order of first call, each once."""
    return list(dict.fromkeys(_CHECK_CALL.findall(source)))


def _verdict(check: CheckResult) -> str:
    points = f"{check.points:g}/{check.max_points:g} points"
    line = f"{check.function}: {check.status.upper()}  {points}  {check.message}"
    if check.hint and check.status != "passed":
        line += f"\n  Hint: {check.hint}"
    return line


def cell_scores(
    result: SubmissionResult, cells: Sequence[GradeCellInfo]
) -> tuple[list[CellScore], list[str]]:
    """Map a result's per-function points onto the notebook's code grade cells.

    A cell worth ``max_score`` that checks functions ``f1, f2...`` gets
    ``max_score * sum(points) / sum(max_points)`` over those functions' checks.

    Returns:
        ``(scores, warnings)``: one score per cell that checks at least one graded function the
        result holds; warnings for cells left unscored (they keep what they had) and for graded
        functions no cell checks (their points do not reach nbgrader).
    """
    by_function: dict[str, list[CheckResult]] = {}
    for check in result.checks:
        by_function.setdefault(check.function, []).append(check)
    scores: list[CellScore] = []
    warnings: list[str] = []
    covered: set[str] = set()
    for cell in cells:
        functions = cell_functions(cell.source)
        missing = [f for f in functions if f not in by_function]
        if not functions or missing:
            what = f"no sandboxed result for {', '.join(missing)}" if missing else "it calls no check(...)"
            warnings.append(f"grade cell {cell.name} left as it was: {what}; grade it in formgrader")
            continue
        checks = [c for f in functions for c in by_function[f]]
        available = sum(c.max_points for c in checks)
        fraction = sum(c.points for c in checks) / available if available > 0 else 0.0
        scores.append(
            CellScore(
                grade_id=cell.name,
                functions=functions,
                auto_score=round(cell.max_score * min(max(fraction, 0.0), 1.0), 4),
                max_score=cell.max_score,
                text="\n".join([VERDICT_HEADER, *(_verdict(c) for c in checks)]) + "\n",
            )
        )
        covered.update(functions)
    for function in by_function:
        if function not in covered:
            warnings.append(f"{function} is checked by no grade cell: its points are not in nbgrader")
    return scores, warnings


#: What an nbgrader course folder holds beside ``submitted/`` that student code must not read: the
#: source notebooks (solutions, hidden tests), the gradebook (it stores every source cell, solutions
#: included) and classmates' autograded notebooks and feedback.
COURSE_PRIVATE = ("source", "release", "autograded", "feedback", "gradebook.db", "nbgrader_config.py")


def course_private_paths(submissions: Path) -> list[Path]:
    """The private parts of the nbgrader course that ``submissions`` belongs to, for the sandbox to hide.

    Args:
        submissions: what is being graded: the course folder, its ``submitted/`` folder or a
            folder or notebook inside it.

    Returns:
        The entries of :data:`COURSE_PRIVATE` that exist in that course folder; empty when
        ``submissions`` is not in an nbgrader course (no ``submitted/`` on the way up).
    """
    path = Path(submissions).resolve()
    for folder in (path, *path.parents):
        if folder.name == "submitted" or (folder / "submitted").is_dir():
            root = folder.parent if folder.name == "submitted" else folder
            return [root / name for name in COURSE_PRIVATE if (root / name).exists()]
    return []


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
    """nbgrader's ids of a result, from the ``submitted/<student>/<assignment>/<notebook>.ipynb`` read.

    The part after the last ``submitted`` folder is used, so results graded from a relative path or
    another copy of the course still find their notebook in ``course_dir``. Results graded from
    elsewhere (zips, a plain folder) fall back to the grader's own student and assignment names.
    """
    parts = Path(result.source).parts
    if "submitted" in parts[:-1]:
        rest = parts[len(parts) - parts[::-1].index("submitted") :]
        if len(rest) >= 3:
            student, assignment, notebook = rest[0], rest[1], Path(rest[-1]).stem
            submitted = course_dir / "submitted" / Path(*rest)
            return _Target(result, student, assignment, notebook, submitted if submitted.is_file() else None)
    return _Target(result, result.student, result.assignment or "", result.assignment or "", None)


def _check_course(gb, targets: Sequence[_Target], create_students: bool) -> list[str]:
    """Everything the course lacks for these targets, each with how to fix it."""
    from nbgrader.api import MissingEntry

    errors: list[str] = []
    for t in targets:
        try:
            gb.find_assignment(t.assignment)
        except MissingEntry:
            errors.append(
                f"assignment {t.assignment!r} (for {t.student}) is not in the gradebook: run "
                f"`nbgrader generate_assignment {t.assignment}` (or `nbgrader db assignment add "
                f"{t.assignment}` then generate_assignment) in the course folder first"
            )
            continue
        try:
            gb.find_notebook(t.notebook, t.assignment)
        except MissingEntry:
            known = ", ".join(nb.name for nb in gb.find_assignment(t.assignment).notebooks) or "none"
            errors.append(
                f"notebook {t.notebook!r} is not part of assignment {t.assignment!r} (its notebooks: "
                f"{known}): name the submitted file like the source notebook, or add it to "
                f"source/{t.assignment}/ and rerun generate_assignment"
            )
        if not create_students:
            try:
                gb.find_student(t.student)
            except MissingEntry:
                errors.append(
                    f"student {t.student!r} is not in the gradebook: add them with "
                    f"`nbgrader db student add {t.student}` (or `nbgrader db student import FILE.csv`), "
                    "or pass --create-students as `nbgrader autograde` does by default"
                )
    return list(dict.fromkeys(errors))


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
    nb, problems = read_notebook(target.submitted)
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

    Args:
        results: from :func:`read_results` (a grading of ``COURSE/submitted``).
        course_dir: the nbgrader course root (holds ``source/``, ``submitted/``, ``autograded/``).
        db_url: the gradebook (default :func:`default_db_url`); it must exist and know each assignment.
        create_students: add students the gradebook lacks (as ``nbgrader autograde`` does by default)
            instead of refusing.

    Returns:
        What was imported and skipped. Results the grader failed on (``grader_error``) are skipped,
        never written as a score.

    Raises:
        GradebookError: when the gradebook is missing or lacks an assignment, notebook or student;
            nothing is written then.
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
        errors = _check_course(gb, targets, create_students)
        if errors:
            raise GradebookError("nothing imported:\n  " + "\n  ".join(errors))
        for t in targets:
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
                    shutil.copyfile(
                        t.submitted.parent / "timestamp.txt", target / "timestamp.txt"
                    )  # as autograde
            total = sum(s.auto_score for s in scores)
            available = sum(s.max_score for s in scores)
            report.imported.append(
                f"{t.student}/{t.assignment}/{t.notebook}: {total:g}/{available:g} code points"
            )
    return report
