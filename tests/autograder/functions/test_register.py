"""Adding a graded function is one module and one solution cell: a throw-away one, graded end to end.

The function is registered from this test module; the solution cell (with its test cell and one
mistake's edit) is added to a copy of the StyleTransfer solution notebook in a temporary folder;
references are built from that folder; then the self-check, the batch grader, the feedback and the
class report all grade it, without any other file of the package changing.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import Any

import nbformat
import pytest
import torch

from autograder.batch_outputs import grade_path
from autograder.checks.base import GradedFunction, Mistake
from autograder.checks.compare import Tolerance
from autograder.functions import FUNCTIONS, functions_of, register, unregister
from autograder.reference_build import build_references
from autograder.runner import Call
from autograder.selfcheck import run_check
from autograder.settings import HIDDEN_REFERENCES_ENV, GradingSettings
from autograder.solution_edits import apply_edits
from tests.helpers.notebooks import REPO

pytestmark = [pytest.mark.slow, pytest.mark.linux]

NAME = "sum_of_squares"


class SumOfSquares(GradedFunction):
    """A throw-away graded function: the sum of the squared entries of a tensor."""

    name = NAME
    notebook = "StyleTransfer"
    order = 99
    points = 1.0
    scalar = True
    tolerance = Tolerance(1e-6)
    hint = "Square every entry, then add them all (accepted when rel_error < {threshold})."
    mistakes = (Mistake("squares_not_taken", "entries summed without squaring", "Square each entry first."),)

    def cases(self, params: dict[str, Any]) -> list[Call]:
        return [Call(args=(torch.randn(3, 4, generator=torch.Generator().manual_seed(params["seed"])),))]


_CELL = '''def sum_of_squares(x):
    """Sum of the squared entries of x (any shape); returns a scalar tensor."""
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    ### BEGIN SOLUTION
    return x.pow(2).sum()
    ### END SOLUTION
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****'''

_TEST = f'from autograder.selfcheck import check\ncheck("{NAME}", {NAME})'


def _solutions_with_the_new_cell(folder: Path) -> Path:
    """A copy of solutions/ whose StyleTransfer notebook ends with the new solution and test cells."""
    shutil.copytree(REPO / "solutions", folder)
    path = folder / "StyleTransfer.ipynb"
    nb = nbformat.read(path, as_version=4)
    cell = nbformat.v4.new_code_cell(_CELL)
    cell.metadata["nbgrader"] = {"grade": False, "grade_id": NAME, "locked": False, "solution": True}
    cell.metadata["autograder"] = {"edits": {"squares_not_taken": [["x.pow(2).sum()", "x.sum()"]]}}
    test = nbformat.v4.new_code_cell(_TEST)
    test.metadata["nbgrader"] = {
        "grade": True,
        "grade_id": f"test_{NAME}",
        "locked": True,
        "points": 1,
        "solution": False,
    }
    nb.cells += [cell, test]
    nbformat.write(nb, path)
    return folder


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory):
    """The function registered, its solution cell added, hidden references built with it."""
    register(SumOfSquares)
    try:
        root = tmp_path_factory.mktemp("new-function")
        solutions = _solutions_with_the_new_cell(root / "solutions")
        references = build_references(77, root / "hidden.pt", solutions, private=True)
        yield root, solutions, references
    finally:
        unregister(NAME)


def test_it_is_registered_with_its_notebook(registered) -> None:
    """Is the new function in the registry, after StyleTransfer's own four?"""
    assert NAME in FUNCTIONS
    assert [fn.name for fn in functions_of("StyleTransfer")][-1] == NAME


def test_self_check(registered, monkeypatch: pytest.MonkeyPatch) -> None:
    """Does the self-check pass the solution and name the mistake, with the new references?"""
    _, _, references = registered
    monkeypatch.setenv(HIDDEN_REFERENCES_ENV, str(references))

    def sum_of_squares(x):
        return (x * x).sum()

    assert run_check(NAME, sum_of_squares, hidden=True).status == "passed"
    wrong = run_check(NAME, lambda x: x.sum(), hidden=True)
    assert wrong.mistake == "squares_not_taken" and wrong.points == 0


def test_batch_feedback_and_class_report(registered) -> None:
    """Do the batch grader, the feedback and the class report grade and show the new function?"""
    root, solutions, references = registered
    solved = nbformat.read(solutions / "StyleTransfer.ipynb", as_version=4)
    submitted = root / "submitted"
    for student, nb in (("solved", solved), ("mistaken", apply_edits(solved, [(NAME, "squares_not_taken")]))):
        path = submitted / student / "StyleTransfer" / "StyleTransfer.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
    out = root / "out"
    run = grade_path(submitted, out, GradingSettings("hidden", references), progress=False)
    checks = {(r.student, c.function): c for r in run.results for c in r.checks}
    assert checks[("solved", NAME)].status == "passed" and checks[("solved", NAME)].points == 1
    assert checks[("mistaken", NAME)].mistake == "squares_not_taken"
    assert all(r.max_score == 12 for r in run.results)  # 11 points of StyleTransfer + 1
    feedback = (out / "feedback" / "mistaken__StyleTransfer.md").read_text(encoding="utf-8")
    assert NAME in feedback and "Square each entry first" in feedback
    with open(out / "gradebook.csv", encoding="utf-8") as f:
        assert NAME in next(csv.reader(f))
    report = (out / "report.csv").read_text(encoding="utf-8")
    assert NAME in report and "squares_not_taken" in report
