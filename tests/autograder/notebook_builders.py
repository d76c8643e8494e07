"""Helpers shared by engineer C's autograder tests: namespaces of solution, stub and mistake notebooks.

Mistakes are edits of the solution notebooks' text (autograder.mistakes); nothing here holds a
solution. These namespaces execute the course's OWN notebooks in the test process (trusted code).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import nbformat

from autograder.mistakes import Mistake, apply_mistakes
from autograder.references import notebook_namespace

REPO = Path(__file__).resolve().parents[2]


def solution_nb(notebook: str) -> nbformat.NotebookNode:
    """The solution notebook, read fresh."""
    return nbformat.read(REPO / "solutions" / f"{notebook}.ipynb", as_version=4)


@lru_cache(maxsize=4)
def solution_functions(notebook: str) -> dict[str, Any]:
    """Globals after running the solution notebook's imports and solution cells."""
    return notebook_namespace(solution_nb(notebook), notebook)


@lru_cache(maxsize=4)
def stub_functions(notebook: str) -> dict[str, Any]:
    """Globals of the released student notebook as a student receives it (untouched stubs)."""
    nb = nbformat.read(REPO / "notebooks" / f"{notebook}.ipynb", as_version=4)
    return notebook_namespace(nb, notebook)


def mistake_functions(mistake: Mistake) -> dict[str, Any]:
    """Globals of the solution notebook with one classic mistake edited in."""
    return notebook_namespace(apply_mistakes(solution_nb(mistake.notebook), [mistake]), mistake.notebook)


def mistake_nb(mistake: Mistake) -> nbformat.NotebookNode:
    """The solution notebook with one classic mistake edited in."""
    return apply_mistakes(solution_nb(mistake.notebook), [mistake])
