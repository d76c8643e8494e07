"""Tests of autograder.course: the one registry agrees with the nbgrader metadata of solutions/."""

from __future__ import annotations

import nbformat
import pytest

from autograder.checks import CHECKS
from autograder.course import FUNCTIONS, NOTEBOOKS
from tests.helpers.notebooks import REPO


def _nbgrader_cells(name: str) -> dict[str, dict]:
    nb = nbformat.read(REPO / "solutions" / f"{name}.ipynb", as_version=4)
    cells = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        if meta and meta.get("grade_id"):
            cells[meta["grade_id"]] = {"type": cell.cell_type, **meta}
    return cells


@pytest.mark.parametrize("name", list(NOTEBOOKS))
def test_registry_matches_the_solution_notebooks(name: str) -> None:
    """Are the registry's functions, points and written answers exactly the notebook's graded cells?"""
    notebook = NOTEBOOKS[name]
    cells = _nbgrader_cells(name)
    for function in notebook.functions:
        assert cells[function.name]["solution"] and not cells[function.name]["grade"], function.name
        test = cells[function.test_cell]
        assert test["grade"] and not test["solution"]
        assert float(test["points"]) == function.points, function.name
    autograded = {g for g, c in cells.items() if c["grade"] and not c["solution"]}
    assert autograded == {f.test_cell for f in notebook.functions}
    written = {g for g, c in cells.items() if c["grade"] and c["solution"]}
    assert written == set(notebook.written_answers)
    assert all(float(cells[g]["points"]) == notebook.answer_points for g in written)


def test_every_function_has_its_check() -> None:
    """Does every registered function have a check, in the registry's order, and no check more?"""
    assert list(CHECKS) == list(FUNCTIONS)
    assert all(CHECKS[f].points == FUNCTIONS[f].points for f in FUNCTIONS)
    assert all(CHECKS[f].notebook == FUNCTIONS[f].notebook for f in FUNCTIONS)
