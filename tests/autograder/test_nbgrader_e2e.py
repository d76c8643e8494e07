"""End to end with real nbgrader: generate_assignment, then autograde submissions into a sqlite gradebook.

A temporary course directory gets ``source/<Name>/<Name>.ipynb`` copied from solutions/, hidden
references built from an instructor seed outside the course directory, and two students per notebook:

* ``solved``: the released notebook with each solution cell's source taken from the solution
  notebook (what a student who solved everything hands in);
* ``untouched``: the released notebook as generated (``pass`` between the markers).

``nbgrader autograde`` runs the hidden tests (restored from the gradebook) with ``NBGRADER_EXECUTION``
set, so failing checks raise and their cells score 0.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import nbformat
import pytest

from autograder.release import NOTEBOOK_NAMES, SOLUTIONS_DIR

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")]

#: Seconds nbgrader may spend on one cell: the notebooks' demo cells optimize images on the CPU.
CELL_TIMEOUT_S = 900


def _config(course: Path) -> Any:
    from traitlets.config import Config

    config = Config()
    config.CourseDirectory.root = str(course)
    config.CourseDirectory.db_url = f"sqlite:///{course / 'gradebook.db'}"
    config.ClearSolutions.code_stub = {"python": "pass"}
    config.Execute.timeout = CELL_TIMEOUT_S
    return config


def _grade_cell_outputs(path: Path) -> str:
    """Text printed by the graded test cells of an autograded notebook."""
    nb = nbformat.read(path, as_version=4)
    texts = [
        output.get("text", "") + "".join(output.get("traceback", []))
        for cell in nb.cells
        if cell.metadata.get("nbgrader", {}).get("grade")
        for output in cell.get("outputs", [])
    ]
    return "\n".join(texts)


def _solved(released: nbformat.NotebookNode, solution: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The released notebook with the solution notebook's code in every solution cell."""
    by_id = {
        cell.metadata["nbgrader"]["grade_id"]: cell.source
        for cell in solution.cells
        if cell.metadata.get("nbgrader", {}).get("solution")
    }
    solved = nbformat.from_dict(released)
    for cell in solved.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in by_id:
            cell.source = by_id[grade_id]
    return solved


@pytest.fixture(scope="module")
def hidden_references(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Hidden references from an instructor seed, written outside the course directory."""
    from autograder.references import build_references

    path = tmp_path_factory.mktemp("instructor") / "hidden.pt"
    return build_references(1234, path, private=True)


@pytest.fixture(scope="module")
def autograded(
    tmp_path_factory: pytest.TempPathFactory, hidden_references: Path
) -> dict[tuple[str, str], tuple[float, float, str]]:
    """(assignment, student) -> (score, max_score, graded cells' output) after ``nbgrader autograde``."""
    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI

    course = tmp_path_factory.mktemp("course")
    for name in NOTEBOOK_NAMES:
        (course / "source" / name).mkdir(parents=True)
        shutil.copyfile(SOLUTIONS_DIR / f"{name}.ipynb", course / "source" / name / f"{name}.ipynb")

    previous = os.environ.get("AUTOGRADER_HIDDEN_REFERENCES")
    os.environ["AUTOGRADER_HIDDEN_REFERENCES"] = str(hidden_references)  # inherited by nbgrader's kernels
    try:
        api = NbGraderAPI(config=_config(course))
        for name in NOTEBOOK_NAMES:
            outcome = api.generate_assignment(name, force=True, create=True)
            assert outcome["success"], outcome.get("log")
            released = nbformat.read(course / "release" / name / f"{name}.ipynb", as_version=4)
            solution = nbformat.read(SOLUTIONS_DIR / f"{name}.ipynb", as_version=4)
            for student, nb in (("solved", _solved(released, solution)), ("untouched", released)):
                folder = course / "submitted" / student / name
                folder.mkdir(parents=True)
                nbformat.write(nb, folder / f"{name}.ipynb")
                outcome = api.autograde(name, student, force=True, create=True)
                assert outcome["success"], outcome.get("log")
        scores: dict[tuple[str, str], tuple[float, float, str]] = {}
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
            for name in NOTEBOOK_NAMES:
                for student in ("solved", "untouched"):
                    submission = gradebook.find_submission(name, student)
                    autograded = course / "autograded" / student / name / f"{name}.ipynb"
                    scores[name, student] = (
                        submission.score,
                        submission.max_score,
                        _grade_cell_outputs(autograded),
                    )
        return scores
    finally:
        if previous is None:
            os.environ.pop("AUTOGRADER_HIDDEN_REFERENCES", None)
        else:
            os.environ["AUTOGRADER_HIDDEN_REFERENCES"] = previous


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_solved_notebook_gets_full_marks(autograded: dict, name: str) -> None:
    """Does nbgrader autograde give the solved notebook every point, hidden tests included?"""
    score, max_score, output = autograded[name, "solved"]
    assert max_score > 0
    assert score == max_score, output
    assert "[hidden tests]" in output and "PASSED" in output


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_untouched_notebook_gets_nothing(autograded: dict, name: str) -> None:
    """Does nbgrader autograde give the untouched student notebook zero points, saying why?"""
    score, max_score, output = autograded[name, "untouched"]
    assert max_score > 0
    assert score == 0, output
    assert "AssertionError" in output
