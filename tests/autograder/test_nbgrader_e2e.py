"""End to end with real nbgrader: generate_assignment, then autograde submissions into a sqlite gradebook.

A temporary course directory gets ``source/<Name>/<Name>.ipynb`` made from solutions/ (the graded
part only, see :func:`_graded_part`), hidden
references built from an instructor seed outside the course directory, and two students per notebook:

* ``solved``: the released notebook with each solution cell's source taken from the solution
  notebook (what a student who solved everything hands in);
* ``untouched``: the released notebook as generated (``pass`` between the markers).

``nbgrader autograde`` runs the hidden tests (restored from the gradebook) with ``NBGRADER_EXECUTION``
set, so failing checks raise and their cells score 0.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import nbformat
import pytest

from autograder.release import NOTEBOOK_NAMES, SOLUTIONS_DIR, nbgrader_environment

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


def _graded_part(solution: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The solution notebook without its demo code cells: imports, solution cells, graded cells, markdown.

    The demo cells optimize images for minutes on a CPU under nbgrader's kernel; they are not part of
    what is graded, and the nbgrader pipeline (generate, autograde with hidden tests, gradebook) is
    the same without them.
    """
    kept = nbformat.from_dict(solution)
    kept.cells = [
        cell
        for cell in solution.cells
        if cell.cell_type != "code"
        or cell.metadata.get("nbgrader", {}).get("grade_id") == "imports"
        or cell.metadata.get("nbgrader", {}).get("solution")
        or cell.metadata.get("nbgrader", {}).get("grade")
    ]
    return kept


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
    from autograder.reference_build import build_references

    path = tmp_path_factory.mktemp("instructor") / "hidden.pt"
    return build_references(1234, path, private=True)


@pytest.fixture(scope="module", params=NOTEBOOK_NAMES)
def autograded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, hidden_references: Path
) -> dict[str, tuple[float, float, str]]:
    """Per notebook: student -> (code score, max code score, graded cells' output) after autograde."""
    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI

    name: str = request.param
    course = tmp_path_factory.mktemp(f"course-{name}")
    (course / "source" / name).mkdir(parents=True)
    solution = _graded_part(nbformat.read(SOLUTIONS_DIR / f"{name}.ipynb", as_version=4))
    nbformat.write(solution, course / "source" / name / f"{name}.ipynb")

    previous = os.environ.get("AUTOGRADER_HIDDEN_REFERENCES")
    os.environ["AUTOGRADER_HIDDEN_REFERENCES"] = str(hidden_references)  # inherited by nbgrader's kernels
    path_env = contextlib.ExitStack()
    path_env.enter_context(nbgrader_environment())  # nbgrader runs `alembic` from this venv's bin/
    try:
        api = NbGraderAPI(config=_config(course))
        outcome = api.generate_assignment(name, force=True, create=True)
        assert outcome["success"], outcome.get("log")
        released = nbformat.read(course / "release" / name / f"{name}.ipynb", as_version=4)
        students = {"solved": _solved(released, solution), "untouched": released}
        for student, nb in students.items():
            folder = course / "submitted" / student / name
            folder.mkdir(parents=True)
            nbformat.write(nb, folder / f"{name}.ipynb")
            outcome = api.autograde(name, student, force=True, create=True)
            assert outcome["success"], outcome.get("log")
        scores: dict[str, tuple[float, float, str]] = {}
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
            for student in students:
                submission = gradebook.find_submission(name, student)
                autograded_path = course / "autograded" / student / name / f"{name}.ipynb"
                # code cells only: written answers (markdown solution cells) are graded by hand
                scores[student] = (
                    submission.code_score,
                    submission.max_code_score,
                    _grade_cell_outputs(autograded_path),
                )
        return scores
    finally:
        path_env.close()
        if previous is None:
            os.environ.pop("AUTOGRADER_HIDDEN_REFERENCES", None)
        else:
            os.environ["AUTOGRADER_HIDDEN_REFERENCES"] = previous


def test_solved_notebook_gets_full_marks(autograded: dict) -> None:
    """Does nbgrader autograde give the solved notebook every point, hidden tests included?"""
    score, max_score, output = autograded["solved"]
    assert max_score > 0
    assert score == max_score, output
    assert "[hidden tests]" in output and "PASSED" in output


def test_untouched_notebook_gets_nothing(autograded: dict) -> None:
    """Does nbgrader autograde give the untouched student notebook zero points, saying why?"""
    score, max_score, output = autograded["untouched"]
    assert max_score > 0
    assert score == 0, output
    assert "AssertionError" in output
