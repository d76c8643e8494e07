"""nbgrader, safely: the bypass of ``nbgrader autograde``, and the sandboxed scores in nbgrader's gradebook.

One temporary nbgrader course (StyleTransfer, the graded part of the solution notebook, as in
test_nbgrader_e2e.py), ``generate_assignment``, then a ``collect``-style ``submitted/<student>/
StyleTransfer/`` tree (with ``timestamp.txt``) for four students:

* ``solved``: every solution cell from the solution notebook;
* ``untouched``: the released notebook;
* ``mistake``: solved, with the ``gram_unnormalized`` edit stored with its solution cell (partial credit);
* ``patcher``: the released stubs, plus one line in a solution cell that replaces
  ``autograder.selfcheck.check`` with a function that does nothing.

Real ``nbgrader autograde`` gives the patcher full marks. The batch grader (public references, so
no hidden file is needed) gives the same notebook what the untouched stub gets, ``nbgrader-import``
writes those scores into the gradebook, and nbgrader's own ``export`` and ``generate_feedback`` then
show them.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from typing import Any

import nbformat
import pytest

from autograder.cli import main
from autograder.grading.nbgrader_cells import VERDICT_HEADER
from autograder.release import SOLUTIONS_DIR, nbgrader_environment
from autograder.solution_edits import apply_edits
from tests.autograder.test_nbgrader_e2e import _config, _graded_part, _solved

pytestmark = [
    pytest.mark.slow,
    pytest.mark.linux,
    pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning"),
]

NAME = "StyleTransfer"
#: What a hostile student adds to a solution cell: every later check(...) in this kernel passes.
PATCH = "\nimport autograder.selfcheck\nautograder.selfcheck.check = lambda *args, **kwargs: None\n"
TIMESTAMP = "2026-12-01 10:00:00.000000 UTC"


def _patched(released: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The released stubs with :data:`PATCH` appended to the first solution code cell."""
    nb = nbformat.from_dict(released)
    cell = next(
        c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")
    )
    cell.source += PATCH
    return nb


def _grades(gb: Any, student: str) -> dict[str, tuple[float | None, float | None, bool]]:
    """grade_id -> (auto_score, manual_score, needs_manual_grade) of a student's notebook."""
    grades = gb.find_submission_notebook(NAME, NAME, student).grades
    return {g.name: (g.auto_score, g.manual_score, g.needs_manual_grade) for g in grades}


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The course after autograding the patcher with nbgrader, batch grading everyone and importing."""
    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI

    from autograder.batch_outputs import grade_path
    from autograder.settings import GradingSettings

    root = tmp_path_factory.mktemp("course")
    (root / "source" / NAME).mkdir(parents=True)
    solution = _graded_part(nbformat.read(SOLUTIONS_DIR / f"{NAME}.ipynb", as_version=4))
    nbformat.write(solution, root / "source" / NAME / f"{NAME}.ipynb")
    db_url = f"sqlite:///{root / 'gradebook.db'}"
    facts: dict[str, Any] = {"root": root, "db_url": db_url}
    with nbgrader_environment():
        api = NbGraderAPI(config=_config(root))
        outcome = api.generate_assignment(NAME, force=True, create=True)
        assert outcome["success"], outcome.get("log")
        released = nbformat.read(root / "release" / NAME / f"{NAME}.ipynb", as_version=4)
        solved = _solved(released, solution)
        students = {
            "solved": solved,
            "untouched": released,
            "mistake": apply_edits(solved, [("gram_matrix", "gram_unnormalized")]),
            "patcher": _patched(released),
        }
        for student, nb in students.items():
            folder = root / "submitted" / student / NAME
            folder.mkdir(parents=True)
            nbformat.write(nb, folder / f"{NAME}.ipynb")
            (folder / "timestamp.txt").write_text(TIMESTAMP, encoding="utf-8")

        outcome = api.autograde(NAME, "patcher", force=True, create=True)
        assert outcome["success"], outcome.get("log")
        with Gradebook(db_url) as gb:
            submission = gb.find_submission(NAME, "patcher")
            facts["nbgrader_patcher"] = (submission.code_score, submission.max_code_score)
            facts["patcher_before_import"] = _grades(gb, "patcher")

        out = root.parent / f"{root.name}-batch"
        run = grade_path(root / "submitted", out, GradingSettings("public"), progress=False)
        facts["batch"] = {r.student: r for r in run.results}
        with open(out / "gradebook.csv", encoding="utf-8") as fh:
            facts["gradebook_csv"] = {row["student"]: row for row in csv.DictReader(fh)}

        facts["partial"] = subprocess.run(
            [sys.executable, "-m", "autograder", "nbgrader-import", str(out), "--course", str(root)],
            capture_output=True,
            text=True,
        )
        with Gradebook(db_url) as gb:
            facts["patcher_after_partial"] = gb.find_submission(NAME, "patcher").code_score
        facts["import_rc"] = main(["nbgrader-import", str(out), "--course", str(root), "--create-students"])

        export = root / "grades.csv"
        subprocess.run(
            [sys.executable, "-m", "nbgrader", "export", f"--CourseDirectory.root={root}", f"--to={export}"],
            cwd=root,
            check=True,
            capture_output=True,
        )
        with open(export, encoding="utf-8") as fh:
            facts["export"] = {row["student_id"]: row for row in csv.DictReader(fh)}
        facts["feedback"] = api.generate_feedback(NAME, force=True)
        with Gradebook(db_url) as gb:
            facts["db"] = {s: _grades(gb, s) for s in students}
    return facts


def test_nbgrader_autograde_gives_the_patcher_full_marks(course: dict) -> None:
    """Does a solution cell that replaces the check pass every hidden test under real nbgrader autograde?"""
    score, max_score = course["nbgrader_patcher"]
    assert max_score == 11  # content_loss 2 + gram_matrix 3 + style_loss 3 + tv_loss 3
    assert score == max_score


def test_batch_grader_gives_the_patcher_the_stub_score(course: dict) -> None:
    """Does the sandboxed batch grader give the patched notebook what the untouched stub gets, 0?"""
    batch = course["batch"]
    assert batch["untouched"].score == 0
    assert batch["patcher"].score == batch["untouched"].score
    assert all(c.status == "not_implemented" for c in batch["patcher"].checks)
    assert batch["solved"].score == batch["solved"].max_score == 11
    assert 0 < batch["mistake"].score < 11  # gram_matrix partial


def test_import_skips_unknown_students_with_the_fix_and_imports_the_rest(course: dict) -> None:
    """Does the import name the students the gradebook lacks and say how to add them, while
    importing the student it knows (nbgrader autograde created the patcher: 11 became the sandbox's 0)?"""
    partial = course["partial"]
    assert partial.returncode == 1
    for student in ("solved", "untouched", "mistake"):
        assert f"student {student!r} is not in the gradebook" in partial.stdout
    assert "nbgrader db student add" in partial.stdout and "--create-students" in partial.stdout
    assert "'patcher' is not" not in partial.stdout
    assert "1 notebook(s) imported, 3 skipped" in partial.stdout
    assert course["patcher_after_partial"] == 0


def test_nbgrader_export_equals_the_batch_gradebook(course: dict) -> None:
    """Does nbgrader's own CSV export give every student the score of our gradebook.csv?"""
    assert course["import_rc"] == 0
    export, ours = course["export"], course["gradebook_csv"]
    assert set(export) == set(ours) == {"solved", "untouched", "mistake", "patcher"}
    for student, row in ours.items():
        assert float(export[student]["score"]) == pytest.approx(float(row["total"])), student
    assert float(export["patcher"]["score"]) == 0


def test_gradebook_holds_per_cell_scores_and_leaves_written_answers_alone(course: dict) -> None:
    """Is each code grade cell scored from its function, and is every written answer left to the grader?"""
    db, batch = course["db"], course["batch"]
    for student, grades in db.items():
        points = {c.function: c.points for c in batch[student].checks}
        for name, (auto, manual, needs_manual) in grades.items():
            if name.startswith("test_"):
                assert auto == pytest.approx(points[name.removeprefix("test_")]), (student, name)
                assert manual is None and needs_manual is False
            elif student == "patcher":  # nbgrader autograde scored the unchanged answers 0: kept
                assert (auto, manual, needs_manual) == course["patcher_before_import"][name]
            else:  # inline_answer_*: markdown, left for the grader
                assert (auto, manual, needs_manual) == (None, None, True), (student, name)


def test_generate_feedback_shows_the_sandboxed_verdicts(course: dict) -> None:
    """Does nbgrader generate_feedback work on the imported grades and show the sandbox's verdicts?"""
    assert course["feedback"]["success"], course["feedback"].get("log")
    html = (course["root"] / "feedback" / "patcher" / NAME / f"{NAME}.html").read_text(encoding="utf-8")
    assert VERDICT_HEADER in html
    assert "content_loss: NOT IMPLEMENTED" in html
    autograded = nbformat.read(
        course["root"] / "autograded" / "patcher" / NAME / f"{NAME}.ipynb", as_version=4
    )
    patched_cell = next(c for c in autograded.cells if c.metadata.get("nbgrader", {}).get("solution"))
    assert "autograder.selfcheck.check = " in patched_cell.source  # the submission as handed in
