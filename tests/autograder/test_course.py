"""Tests of autograder.course and the registry of graded functions: both agree with solutions/."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from autograder.checks.base import GradedFunction
from autograder.course import NOTEBOOKS
from autograder.functions import FUNCTIONS, functions_of, register, unregister
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
    for function in functions_of(notebook.name):
        assert cells[function.name]["solution"] and not cells[function.name]["grade"], function.name
        test = cells[function.test_cell]
        assert test["grade"] and not test["solution"]
        assert float(test["points"]) == function.points, function.name
    autograded = {g for g, c in cells.items() if c["grade"] and not c["solution"]}
    assert autograded == {f.test_cell for f in functions_of(notebook.name)}
    written = {g for g, c in cells.items() if c["grade"] and c["solution"]}
    assert written == set(notebook.written_answers)
    assert all(float(cells[g]["points"]) == notebook.answer_points for g in written)


def test_the_registry_is_every_module_of_the_functions_package() -> None:
    """Is each graded function one module of autograder/functions, registered under its own name?"""
    import autograder.functions as package

    modules = sorted(p.stem for p in Path(package.__file__).parent.glob("*.py") if p.stem != "__init__")
    assert sorted(FUNCTIONS) == modules
    assert [f.name for nb in NOTEBOOKS.values() for f in functions_of(nb.name)] == list(FUNCTIONS)


def test_register_refuses_what_cannot_be_graded() -> None:
    """Are an unknown notebook, a taken name, no points and a credit of 1 refused with a message?"""

    def make(**attributes) -> type[GradedFunction]:
        base = {"name": "throwaway", "notebook": "StyleTransfer", "order": 99, "points": 1.0, "hint": "h"}
        return type("Throwaway", (GradedFunction,), {**base, **attributes})

    with pytest.raises(ValueError, match="unknown notebook"):
        register(make(notebook="Nope"))
    with pytest.raises(ValueError, match="already registered"):
        register(make(name="gram_matrix"))
    with pytest.raises(ValueError, match="points"):
        register(make(points=0))
    from autograder.checks.base import Mistake

    with pytest.raises(ValueError, match="credit"):
        register(make(mistakes=(Mistake("m", "l", "h", credit=1.0),)))
    register(make())
    try:
        assert functions_of("StyleTransfer")[-1].name == "throwaway"
    finally:
        unregister("throwaway")
    assert "throwaway" not in FUNCTIONS
