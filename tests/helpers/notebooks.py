"""Notebook builders shared by the tests: the course's own notebooks, stubbed, edited or with mistakes.

Mistakes are the text edits stored with the solution cells (:mod:`autograder.solution_edits`) and
hostile cases replace one solution region; nothing here holds a solution. The ``*_functions`` helpers run the
course's OWN notebooks in the test process (trusted code); student-like code runs only in sandboxes.
"""

from __future__ import annotations

import copy
import re
import textwrap
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import nbformat

from autograder.course import NOTEBOOKS
from autograder.functions import FUNCTIONS, function_names
from autograder.reference_build import notebook_namespace
from autograder.solution_edits import apply_edits, edits_of

__all__ = [
    "REPO",
    "EditCase",
    "edit_cases",
    "edit_cell",
    "mistake_functions",
    "mistake_nb",
    "replace_solution",
    "solution_cell",
    "solution_functions",
    "solution_nb",
    "stub_functions",
    "stub_notebook",
]

#: The course checkout the tests run in.
REPO = Path(__file__).resolve().parents[2]

_REGION = re.compile(r"^( *)### BEGIN SOLUTION\n.*?^ *### END SOLUTION\n", flags=re.M | re.S)


def solution_nb(notebook: str) -> nbformat.NotebookNode:
    """The solution notebook ``solutions/<notebook>.ipynb``, read fresh."""
    return nbformat.read(REPO / "solutions" / f"{notebook}.ipynb", as_version=4)


def solution_cell(nb: nbformat.NotebookNode, function: str) -> nbformat.NotebookNode:
    """The solution cell whose nbgrader grade_id is ``function``."""
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == function:
            return cell
    raise KeyError(f"no solution cell for {function}")


def replace_solution(nb: nbformat.NotebookNode, function: str, body: str) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose solution region of ``function`` holds ``body`` (code, any indentation)."""
    nb = copy.deepcopy(nb)
    cell = solution_cell(nb, function)
    match = _REGION.search(cell.source)
    if match is None:
        raise ValueError(f"no ### BEGIN/END SOLUTION region in the cell of {function}")
    indent = match.group(1)
    code = textwrap.indent(textwrap.dedent(body).strip("\n"), indent)
    region = f"{indent}### BEGIN SOLUTION\n{code}\n{indent}### END SOLUTION\n"
    cell.source = cell.source[: match.start()] + region + cell.source[match.end() :]
    return nb


def edit_cell(nb: nbformat.NotebookNode, function: str, old: str, new: str) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose cell of ``function`` has every ``old`` replaced by ``new`` (must occur)."""
    nb = copy.deepcopy(nb)
    cell = solution_cell(nb, function)
    if old not in cell.source:
        raise ValueError(f"{old!r} does not occur in the cell of {function}")
    cell.source = cell.source.replace(old, new)
    return nb


def stub_notebook(name: str) -> nbformat.NotebookNode:
    """The released student version's code: every solution region is ``raise NotImplementedError()``."""
    nb = solution_nb(name)
    for function in function_names(name):
        nb = replace_solution(nb, function, "raise NotImplementedError()")
    return nb


@lru_cache(maxsize=4)
def solution_functions(notebook: str) -> dict[str, Any]:
    """Globals after running the solution notebook's imports and solution cells."""
    return notebook_namespace(solution_nb(notebook), notebook)


@lru_cache(maxsize=4)
def stub_functions(notebook: str) -> dict[str, Any]:
    """Globals of the released student notebook as a student receives it (untouched stubs)."""
    nb = nbformat.read(REPO / "notebooks" / f"{notebook}.ipynb", as_version=4)
    return notebook_namespace(nb, notebook)


@dataclass(frozen=True)
class EditCase:
    """One edit stored with a solution cell: which function, which edit, which notebook."""

    notebook: str
    function: str
    edit: str

    def __str__(self) -> str:
        return self.edit


def edit_cases(include: tuple[str, ...] = ()) -> list[EditCase]:
    """Every stored edit that reproduces a named mistake (or an error-hint id), in course order.

    Args:
        include: other edit names to keep as well (helpers of the reference build, such as
            make_fooling_image's ``"no_stop"``, are left out by default).
    """
    from autograder.checks.errors import ERROR_HINTS

    errors = {name for _, name, _ in ERROR_HINTS}
    cases = []
    for notebook in NOTEBOOKS:
        nb = solution_nb(notebook)
        for fn in FUNCTIONS.values():
            if fn.notebook == notebook:
                named = {m.id for m in fn.mistakes} | errors | set(include)
                cases += [EditCase(notebook, fn.name, e) for e in edits_of(nb, fn.name) if e in named]
    return cases


def mistake_nb(case: EditCase) -> nbformat.NotebookNode:
    """The solution notebook with one stored edit applied."""
    return apply_edits(solution_nb(case.notebook), [(case.function, case.edit)])


def mistake_functions(case: EditCase) -> dict[str, Any]:
    """Globals of the solution notebook with one stored edit applied."""
    return notebook_namespace(mistake_nb(case), case.notebook)
