"""Batch grading end to end: sandboxed student code, statuses per function, isolation of failures (slow)."""

from __future__ import annotations

import nbformat
import pytest

from autograder.batch_outputs import grade_path
from autograder.course import NOTEBOOKS
from autograder.demo import DEMO_MISTAKES
from autograder.functions import FUNCTIONS
from autograder.settings import GradingSettings, Limits
from autograder.solution_edits import apply_edits
from tests.helpers.notebooks import REPO, edit_cell, solution_nb

pytestmark = [pytest.mark.slow, pytest.mark.linux]


def _hostile() -> nbformat.NotebookNode:
    """A student whose gram_matrix kills its process and whose tv_loss never returns."""
    nb = edit_cell(
        solution_nb("StyleTransfer"), "gram_matrix", "N, C, H, W = features.shape", "import os; os._exit(3)"
    )
    return edit_cell(nb, "tv_loss", "dh = ", "while True:\n        pass\n    dh = ")


def _write(nb: nbformat.NotebookNode, root, student: str, name: str) -> None:
    path = root / student / name / f"{name}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade solution, untouched, classic-mistake and hostile students with 2 workers."""
    root = tmp_path_factory.mktemp("grading")
    subs = root / "submitted"
    for name in NOTEBOOKS:
        _write(solution_nb(name), subs, "solution", name)
        _write(nbformat.read(REPO / "notebooks" / f"{name}.ipynb", as_version=4), subs, "untouched", name)
        _write(apply_edits(solution_nb(name), DEMO_MISTAKES[name]), subs, "mistakes", name)
    _write(_hostile(), subs, "hostile", "StyleTransfer")
    settings = GradingSettings("public", limits=Limits(timeout_s=20))
    run = grade_path(subs, root / "out", settings, workers=2, progress=False)
    return {(r.student, c.function): c for r in run.results for c in r.checks}, run, root


def test_solution_gets_full_marks(graded) -> None:
    """Does the solution earn every point through the sandbox?"""
    checks, _, _ = graded
    solution = [c for (s, _), c in checks.items() if s == "solution"]
    assert len(solution) == len(FUNCTIONS)
    assert all(c.status == "passed" for c in solution), [c.message for c in solution if c.status != "passed"]


def test_untouched_is_not_implemented(graded) -> None:
    """Is every function of the untouched release reported NOT IMPLEMENTED?"""
    checks, _, _ = graded
    assert {c.status for (s, _), c in checks.items() if s == "untouched"} == {"not_implemented"}


def test_classic_mistakes_are_named(graded) -> None:
    """Does each injected mistake get its status and hint through the batch grader?"""
    checks, _, _ = graded
    for function, edit in (pair for pairs in DEMO_MISTAKES.values() for pair in pairs):
        check = checks[("mistakes", function)]
        mistake = FUNCTIONS[function].mistake(edit)
        assert check.mistake == edit, (edit, check.message)
        assert check.hint == mistake.hint
        assert check.points == pytest.approx(mistake.credit * check.max_points), edit
    # a correct style_loss built on the student's unnormalized gram_matrix is named for what it shows
    assert checks[("mistakes", "style_loss")].mistake == "style_unnormalized_gram"


def test_exit_and_hang_cost_only_their_functions(graded) -> None:
    """Does os._exit in one function and an endless loop in another cost just those functions?"""
    checks, _, _ = graded
    assert checks[("hostile", "content_loss")].status == "passed"
    assert checks[("hostile", "gram_matrix")].status == "crashed"
    assert checks[("hostile", "tv_loss")].status == "timeout"
