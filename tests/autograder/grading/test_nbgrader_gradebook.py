"""autograder.grading.nbgrader_gradebook on a tiny nbgrader course built with nbgrader's own Gradebook API.

One assignment ``StyleTransfer`` with one notebook: a solution cell ``gram_matrix``, its code grade
cell ``test_gram_matrix`` (6 points, so scaling shows) and a written answer ``inline_answer_1``.
No nbgrader app runs; the end-to-end test with generate_assignment is test_nbgrader_gradebook_e2e.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from autograder.cli import main
from autograder.grading.nbgrader_cells import VERDICT_HEADER, GradeCellInfo, cell_functions, cell_scores
from autograder.grading.nbgrader_gradebook import GradebookError, import_results
from autograder.grading.results import CheckResult, SubmissionResult
from autograder.grading.store import read_results

pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")

A = NB = "StyleTransfer"
TEST_SOURCE = (
    'from autograder.selfcheck import check\ncheck("gram_matrix", gram_matrix)\n'
    '### BEGIN HIDDEN TESTS\ncheck("gram_matrix", gram_matrix, hidden=True)\n### END HIDDEN TESTS'
)


def _meta(grade_id: str, *, grade: bool, solution: bool, points: float = 0) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": not solution, "schema_version": 3}
    meta.update({"solution": solution, "task": False})
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


def _cells() -> list[nbformat.NotebookNode]:
    """The source notebook's cells, with the checksums ``generate_assignment`` records."""
    from nbgrader.utils import compute_checksum

    code = nbformat.v4.new_code_cell
    cells = [
        code(
            "def gram_matrix(features, normalize=True):\n    pass",
            metadata=_meta("gram_matrix", grade=False, solution=True),
        ),
        code(TEST_SOURCE, metadata=_meta("test_gram_matrix", grade=True, solution=False, points=6)),
        nbformat.v4.new_markdown_cell(
            "YOUR ANSWER HERE", metadata=_meta("inline_answer_1", grade=True, solution=True, points=1)
        ),
    ]
    for cell in cells:
        cell.metadata["nbgrader"]["checksum"] = compute_checksum(cell)
    return cells


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A gradebook that knows the assignment and student ``ann``, made once (nbgrader runs alembic)."""
    from nbgrader.api import Gradebook

    from autograder.release import nbgrader_environment

    path = tmp_path_factory.mktemp("template") / "gradebook.db"
    with nbgrader_environment(), Gradebook(f"sqlite:///{path}") as gb:
        gb.add_assignment(A)
        gb.add_notebook(NB, A)
        gb.add_solution_cell("gram_matrix", NB, A)
        gb.add_grade_cell("test_gram_matrix", NB, A, max_score=6, cell_type="code")
        gb.add_grade_cell("inline_answer_1", NB, A, max_score=1, cell_type="markdown")
        gb.add_solution_cell("inline_answer_1", NB, A)
        for cell in _cells():
            meta = cell.metadata["nbgrader"]
            gb.add_source_cell(
                meta["grade_id"],
                NB,
                A,
                cell_type=cell.cell_type,
                locked=meta["locked"],
                source=cell.source,
                checksum=meta["checksum"],
            )
        gb.add_student("ann")
    return path


@pytest.fixture
def course(tmp_path: Path, template_db: Path) -> Path:
    """A course folder holding a fresh copy of the template gradebook."""
    shutil.copyfile(template_db, tmp_path / "gradebook.db")
    return tmp_path


def _submit(course: Path, student: str, *, timestamp: str | None = None, source: str | None = None) -> Path:
    folder = course / "submitted" / student / A
    folder.mkdir(parents=True, exist_ok=True)
    cells = _cells()
    if source is not None:
        cells[1].source = source  # a student who edited the locked test cell
    path = folder / f"{NB}.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    if timestamp:
        (folder / "timestamp.txt").write_text(timestamp, encoding="utf-8")
    return path


def _result(path: Path, student: str = "ann", points: float = 1.5, **kwargs) -> SubmissionResult:
    check = CheckResult("gram_matrix", "hidden", points, 3.0, "partial", "rel_error 0.5", "look at H*W*C")
    return SubmissionResult(student, A, points, 3.0, [check], source=str(path), **kwargs)


def _grade(course: Path, cell: str, student: str = "ann"):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        grade = gb.find_grade(cell, NB, A, student)
        return grade.auto_score, grade.manual_score, grade.needs_manual_grade


def test_cell_functions_reads_each_checked_function_once() -> None:
    """Are the functions a grade cell checks found once each, public and hidden calls alike?"""
    assert cell_functions(TEST_SOURCE) == ["gram_matrix"]
    assert cell_functions("check('tv_loss', f)\ncheck( \"style_loss\", g, hidden=True)") == [
        "tv_loss",
        "style_loss",
    ]
    assert cell_functions("assert gram_matrix(x).shape == (1, 3, 3)") == []


def test_cell_scores_scale_partial_credit_to_the_cell_points() -> None:
    """Does a cell worth 6 get 6 * 1.5/3, and are unmatched cells and functions reported, not scored?"""
    result = _result(Path("x.ipynb"))
    result.checks.append(CheckResult("tv_loss", "hidden", 3.0, 3.0, "passed", "ok"))
    cells = [
        GradeCellInfo("test_gram_matrix", TEST_SOURCE, 6.0),
        GradeCellInfo("own_test", "assert True", 2.0),
    ]
    scores, warnings = cell_scores(result, cells)
    assert [(s.grade_id, s.auto_score, s.max_score) for s in scores] == [("test_gram_matrix", 3.0, 6.0)]
    assert "PARTIAL CREDIT  1.5/3 points" in scores[0].text and "Hint: look at H*W*C" in scores[0].text
    assert any("own_test left as it was" in w for w in warnings)
    assert any("tv_loss is checked by no grade cell" in w for w in warnings)


def test_import_writes_the_score_submission_and_autograded_notebook(course: Path) -> None:
    """Does the import create the submission (with its timestamp) and score the code cell only?"""
    path = _submit(course, "ann", timestamp="2026-12-01 10:00:00 UTC")
    report = import_results([_result(path)], course)
    assert report.imported == ["ann/StyleTransfer/StyleTransfer: 3/6 code points"]
    assert _grade(course, "test_gram_matrix") == (3.0, None, False)
    assert _grade(course, "inline_answer_1") == (None, None, True)  # left for the grader
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        assert gb.find_submission(A, "ann").timestamp.isoformat().startswith("2026-12-01T10:00:00")
    nb = nbformat.read(course / "autograded" / "ann" / A / f"{NB}.ipynb", as_version=4)
    assert VERDICT_HEADER in nb.cells[1].outputs[0].text
    assert (course / "autograded" / "ann" / A / "timestamp.txt").is_file()  # generate_feedback copies it


def test_import_restores_locked_cells_like_autograde(course: Path) -> None:
    """Does the autograded copy get the instructor's test cell back when the student edited it?"""
    path = _submit(course, "ann", source="print('all tests passed')")
    import_results([_result(path)], course)
    nb = nbformat.read(course / "autograded" / "ann" / A / f"{NB}.ipynb", as_version=4)
    assert nb.cells[1].source == TEST_SOURCE


def test_import_never_overwrites_a_manual_score(course: Path) -> None:
    """Are a grader's manual scores (code and written) kept, with the code cell still flagged for review?"""
    from nbgrader.api import Gradebook

    path = _submit(course, "ann")
    import_results([_result(path, points=3.0)], course)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        gb.find_grade("test_gram_matrix", NB, A, "ann").manual_score = 5.0
        gb.find_grade("inline_answer_1", NB, A, "ann").manual_score = 1.0
        gb.db.commit()
    import_results([_result(path, points=0.0)], course)  # a regrade
    assert _grade(course, "test_gram_matrix") == (0.0, 5.0, True)
    assert _grade(course, "inline_answer_1") == (None, 1.0, True)


def test_a_missing_student_is_skipped_with_the_fix_and_the_others_imported(course: Path) -> None:
    """Does an unknown student cost only their own import (listed with the fix), unless students
    may be created?"""
    ann, bob = _submit(course, "ann"), _submit(course, "bob")
    report = import_results([_result(ann), _result(bob, student="bob")], course)
    assert len(report.imported) == 1 and _grade(course, "test_gram_matrix")[0] == 3.0
    (skipped,) = report.skipped
    assert "student 'bob'" in skipped and "nbgrader db student add bob" in skipped
    assert "--create-students" in skipped
    import_results([_result(ann), _result(bob, student="bob")], course, create_students=True)
    assert _grade(course, "test_gram_matrix", "bob")[0] == 3.0


def test_missing_assignment_and_notebook_are_named_with_the_fix(course: Path) -> None:
    """Do an unknown assignment and an unknown notebook name say which command fixes them, each
    costing only its own result?"""
    wrong_assignment = course / "submitted" / "ann" / "ps9" / f"{NB}.ipynb"
    other = _result(course / "submitted" / "ann" / A / "Other.ipynb")
    other.assignment = "NetworkVisualization"  # graded as another notebook the assignment lacks
    report = import_results([_result(wrong_assignment), other, _result(_submit(course, "ann"))], course)
    assert len(report.imported) == 1
    assert "assignment 'ps9'" in report.skipped[0] and "nbgrader generate_assignment ps9" in report.skipped[0]
    assert "notebook 'Other' is not part of assignment 'StyleTransfer'" in report.skipped[1]


def test_a_renamed_upload_is_imported_as_its_notebook(course: Path) -> None:
    """Is `StyleTransfer (1).ipynb`, which `grade` accepts, imported as notebook StyleTransfer (with a
    warning) instead of refusing the whole class?"""
    _submit(course, "ann")
    renamed = course / "submitted" / "ann" / A / f"{NB} (1).ipynb"
    (course / "submitted" / "ann" / A / f"{NB}.ipynb").rename(renamed)
    _submit(course, "bob")
    report = import_results(
        [_result(renamed), _result(course / "submitted" / "bob" / A / f"{NB}.ipynb", student="bob")],
        course,
        create_students=True,
    )
    assert report.skipped == [] and len(report.imported) == 2
    assert any(f"{NB} (1).ipynb imported as notebook {NB}" in w for w in report.warnings)
    assert _grade(course, "test_gram_matrix")[0] == 3.0
    assert (course / "autograded" / "ann" / A / f"{NB}.ipynb").is_file()


def test_a_copy_planted_in_a_students_folder_never_reaches_a_classmate(course: Path) -> None:
    """Can mallory's result, graded from `submitted/mallory/x/submitted/ann/StyleTransfer/...`,
    change ann's grade or autograded notebook (it gave ann 0 in nbgrader)?"""
    ann = _submit(course, "ann")
    import_results([_result(ann, points=3.0)], course)
    planted = course / "submitted" / "mallory" / "x" / "submitted" / "ann" / A / f"{NB}.ipynb"
    planted.parent.mkdir(parents=True)
    shutil.copyfile(ann, planted)
    report = import_results([_result(planted, student="mallory", points=0.0)], course, create_students=True)
    assert _grade(course, "test_gram_matrix") == (6.0, None, False)  # ann's own 3/3, scaled to 6
    assert report.imported == ["mallory/StyleTransfer/StyleTransfer: 0/6 code points"]
    assert _grade(course, "test_gram_matrix", "mallory")[0] == 0.0


def test_attachments_in_written_answers_survive_into_the_autograded_notebook(course: Path) -> None:
    """Does an image pasted into a written answer reach the notebook formgrader shows?"""
    path = _submit(course, "ann")
    nb = nbformat.read(path, as_version=4)
    nb.cells[2].source = "My answer: ![plot](attachment:plot.png)"
    nb.cells[2].attachments = {"plot.png": {"image/png": "iVBORw0KGgo="}}
    nbformat.write(nb, path)
    import_results([_result(path)], course)
    graded = nbformat.read(course / "autograded" / "ann" / A / f"{NB}.ipynb", as_version=4)
    assert graded.cells[2].attachments == {"plot.png": {"image/png": "iVBORw0KGgo="}}


def test_missing_gradebook_is_refused_without_creating_one(tmp_path: Path) -> None:
    """Does a course without gradebook.db get a clear error, and no empty database created?"""
    with pytest.raises(GradebookError, match=r"no nbgrader gradebook.*generate_assignment"):
        import_results([_result(tmp_path / "x.ipynb")], tmp_path)
    assert not (tmp_path / "gradebook.db").exists()


def test_grader_errors_are_skipped_not_scored(course: Path) -> None:
    """Is a notebook the grader failed on left out of the gradebook (no 0 that looks like a grade)?"""
    path = _submit(course, "ann")
    report = import_results([_result(path, grader_error="template did not start")], course)
    assert report.imported == [] and "not graded" in report.skipped[0]


def test_cli_import_and_its_errors(course: Path, tmp_path_factory: pytest.TempPathFactory, capsys) -> None:
    """Does `nbgrader-import` import a grade run's results, and explain a missing run and a missing db?"""
    out = tmp_path_factory.mktemp("out")
    assert main(["nbgrader-import", str(out), "--course", str(course)]) == 2
    assert "grade first" in capsys.readouterr().err
    (out / "results").mkdir()
    (out / "results" / "ann__StyleTransfer.json").write_text(_result(_submit(course, "ann")).to_json())
    assert main(["nbgrader-import", str(out), "--course", str(course)]) == 0
    assert "1 notebook(s) imported" in capsys.readouterr().out
    assert main(["nbgrader-import", str(out), "--course", str(out)]) == 2
    assert "no nbgrader gradebook" in capsys.readouterr().err
    (out / "results" / "bad__StyleTransfer.json").write_text('{"student": 3}')
    assert main(["nbgrader-import", str(out), "--course", str(course)]) == 1
    text = capsys.readouterr().out
    assert "1 notebook(s) imported, 1 skipped" in text and "bad__StyleTransfer.json" in text


def test_read_results_round_trips(tmp_path: Path) -> None:
    """Are the results a grade run wrote read back in file order?"""
    (tmp_path / "results").mkdir()
    for name in ("b", "a"):
        (tmp_path / "results" / f"{name}__StyleTransfer.json").write_text(
            _result(Path(name), student=name).to_json()
        )
    results, warnings = read_results(tmp_path)
    assert [r.student for r in results] == ["a", "b"] and warnings == []


def test_grade_path_hides_the_nbgrader_course_from_student_code(
    course: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Does the batch grader hide the course's source notebooks and gradebook when grading submitted/
    (outside the student's view anyway, hidden should the view ever overlap them)?"""
    import autograder.grading.batch as batch
    from autograder.batch_outputs import grade_path
    from autograder.isolation.view import hidden_paths
    from autograder.settings import GradingSettings

    _submit(course, "ann")
    (course / "source" / A).mkdir(parents=True)
    seen: list[tuple[Path, ...]] = []

    def fake_grade_job(job: batch._Job) -> tuple[str, float]:
        seen.append(job.settings.hide)
        job.out_json.write_text(_result(job.submission.path).to_json(), encoding="utf-8")
        return str(job.out_json), 0.0

    monkeypatch.setattr(batch, "_grade_job", fake_grade_job)
    out = tmp_path_factory.mktemp("out")
    grade_path(course / "submitted", out, GradingSettings("public"), progress=False)
    assert len(seen) == 1
    assert {str(course / "source"), str(course / "gradebook.db")} <= set(hidden_paths(seen[0]))


def test_results_graded_from_a_relative_path_find_their_notebook(course: Path) -> None:
    """Does a result whose source is ``submitted/...`` relative to another folder still map to the course?"""
    _submit(course, "ann")
    report = import_results([_result(Path("submitted/ann/StyleTransfer/StyleTransfer.ipynb"))], course)
    assert report.imported and not report.warnings
    assert (course / "autograded" / "ann" / A / f"{NB}.ipynb").is_file()
