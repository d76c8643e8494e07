"""One corpus case (:class:`Case`) and the builders every corpus module shares.

A case writes one submission (a notebook made from a solution notebook, usually with one solution
region replaced) and says what grading it must give. Case code may hold placeholders filled when the
corpus is built (see :func:`tests.grading_safety.safety_corpus.build_corpus`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.course import NOTEBOOKS
from autograder.functions import function_names
from tests.helpers.notebooks import replace_solution, solution_nb

__all__ = ["FUNCTIONS", "Case", "fill", "full", "hostile", "lost", "notebook_maker"]

#: Graded functions per notebook, in grading order (from the course registry).
FUNCTIONS: dict[str, tuple[str, ...]] = {name: function_names(name) for name in NOTEBOOKS}


def fill(text: str, values: dict[str, str]) -> str:
    """``text`` with every ``{KEY}`` of ``values`` replaced."""
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


@dataclass(frozen=True)
class Case:
    """One corpus submission and what grading it must give.

    Attributes:
        name: the case (also the student's name in the corpus).
        notebook: the assignment.
        make: writes the submission to a path, given the placeholder values.
        expect: per function, ``"full"`` (full marks), ``"zero"`` or ``"stub"`` (no more than the stub).
        target: the function the case attacks or breaks, if one.
        statuses: accepted check statuses of ``target`` (empty: any).
        problem: text expected in the submission's problems (lower-case match), if any.
        needs: the sandbox protection the case relies on (``"uid"``, ``"network"``,
            ``"hidden_paths"``, ``"view"``), skipped where that protection is not active.
        filename: the submitted file's name (default ``<notebook>.ipynb``).
    """

    name: str
    notebook: str
    make: Callable[[Path, dict[str, str]], None]
    expect: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    statuses: tuple[str, ...] = ()
    problem: str | None = None
    needs: str | None = None
    filename: str | None = None

    def build(self, path: Path, values: dict[str, str]) -> None:
        """Write the submission to ``path``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.make(path, values)


def notebook_maker(
    notebook: str, change: Callable[[nbformat.NotebookNode], nbformat.NotebookNode]
) -> Callable[[Path, dict[str, str]], None]:
    """A ``make`` that writes the solution notebook after ``change``, placeholders filled."""

    def make(path: Path, values: dict[str, str]) -> None:
        nb = change(solution_nb(notebook))
        for cell in nb.cells:
            cell.source = fill(cell.source, values)
        nbformat.write(nb, path)

    return make


def hostile(notebook: str, function: str, body: str) -> Callable[[Path, dict[str, str]], None]:
    """A ``make`` whose ``function`` has ``body`` as its solution region."""
    return notebook_maker(notebook, lambda nb: replace_solution(nb, function, body))


def full(notebook: str) -> dict[str, str]:
    """Every function of ``notebook`` at full marks."""
    return dict.fromkeys(FUNCTIONS[notebook], "full")


def lost(notebook: str, *functions: str) -> dict[str, str]:
    """``functions`` at zero, every other one at full marks."""
    return {f: ("zero" if f in functions else "full") for f in FUNCTIONS[notebook]}
