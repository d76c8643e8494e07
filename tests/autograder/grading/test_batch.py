"""Batch grading end to end: sandboxed student code, statuses per function, isolation of failures (slow)."""

from __future__ import annotations

import nbformat
import pytest

from autograder.course import NOTEBOOKS
from autograder.demo import DEMO_MISTAKES
from autograder.grading.batch import grade_path
from autograder.mistakes import MISTAKES, Mistake, apply_mistakes
from autograder.settings import GradingSettings, Limits
from tests.helpers.notebooks import REPO, solution_nb

pytestmark = [pytest.mark.slow, pytest.mark.linux]

#: A student whose gram_matrix kills its process and whose tv_loss never returns.
HOSTILE = (
    Mistake(
        "exit",
        "StyleTransfer",
        "gram_matrix",
        r"N, C, H, W = features\.shape",
        "import os; os._exit(3)",
        "",
        "",
        "",
    ),
    Mistake("hang", "StyleTransfer", "tv_loss", r"dh = ", "while True:\n        pass\n    dh = ", "", "", ""),
)


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
        chosen = [m for m in MISTAKES if m.name in DEMO_MISTAKES[name]]
        _write(apply_mistakes(solution_nb(name), chosen), subs, "mistakes", name)
    _write(apply_mistakes(solution_nb("StyleTransfer"), HOSTILE), subs, "hostile", "StyleTransfer")
    settings = GradingSettings("public", limits=Limits(timeout_s=20))
    run = grade_path(subs, root / "out", settings, workers=2, progress=False)
    return {(r.student, c.function): c for r in run.results for c in r.checks}, run, root


def test_solution_gets_full_marks(graded) -> None:
    """Does the solution earn every point through the sandbox?"""
    checks, _, _ = graded
    solution = [c for (s, _), c in checks.items() if s == "solution"]
    assert len(solution) == 7
    assert all(c.status == "passed" for c in solution), [c.message for c in solution if c.status != "passed"]


def test_untouched_is_not_implemented(graded) -> None:
    """Is every function of the untouched release reported NOT IMPLEMENTED?"""
    checks, _, _ = graded
    assert {c.status for (s, _), c in checks.items() if s == "untouched"} == {"not_implemented"}


def test_classic_mistakes_are_named(graded) -> None:
    """Does each injected mistake get its status and hint through the batch grader?"""
    checks, _, _ = graded
    for mistake in MISTAKES:
        if mistake.name in DEMO_MISTAKES[mistake.notebook]:
            check = checks[("mistakes", mistake.function)]
            assert check.status == mistake.expect_status, (mistake.name, check.message)
            assert mistake.expect_in_hint in check.hint + check.message
            assert check.mistake == mistake.expect_mistake, (mistake.name, check.message)
    # a correct style_loss built on the student's unnormalized gram_matrix is named for what it shows
    assert checks[("mistakes", "style_loss")].mistake == "style_unnormalized_gram"


def test_exit_and_hang_cost_only_their_functions(graded) -> None:
    """Does os._exit in one function and an endless loop in another cost just those functions?"""
    checks, _, _ = graded
    assert checks[("hostile", "content_loss")].status == "passed"
    assert checks[("hostile", "gram_matrix")].status == "crashed"
    assert checks[("hostile", "tv_loss")].status == "timeout"
