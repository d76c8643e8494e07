"""The course's one registry: graded notebooks, their graded functions, points and nbgrader cells.

Everything else derives from it: the checks (:mod:`autograder.checks`), submission reading (which
assignment a notebook is), the release, the batch grader, the benchmarks and the safety corpus. A
test (``tests/autograder/test_course.py``) compares it with the nbgrader metadata of ``solutions/``,
so the points students see in nbgrader and the points the batch grader gives cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "FUNCTIONS",
    "NOTEBOOKS",
    "GradedFunction",
    "Notebook",
    "notebook_names",
    "test_cell_id",
]


def test_cell_id(function: str) -> str:
    """The ``grade_id`` of the nbgrader test cell that checks ``function`` (``test_<function>``)."""
    return f"test_{function}"


@dataclass(frozen=True)
class GradedFunction:
    """One function students implement.

    Attributes:
        name: the function's name in the notebook (CS231n's), e.g. ``"gram_matrix"``; also the
            ``grade_id`` of its nbgrader solution cell.
        notebook: the notebook it belongs to.
        points: points of its autograded test cell (:func:`test_cell_id`).
    """

    name: str
    notebook: str
    points: float

    @property
    def test_cell(self) -> str:
        """``grade_id`` of its nbgrader test cell."""
        return test_cell_id(self.name)


@dataclass(frozen=True)
class Notebook:
    """One graded notebook (``solutions/<name>.ipynb`` -> ``notebooks/<name>.ipynb``).

    Attributes:
        name: file stem, e.g. ``"StyleTransfer"``.
        functions: the graded functions, in notebook order.
        written_answers: ``grade_id`` of each manually graded written answer (inline question).
        answer_points: points of each written answer.
    """

    name: str
    functions: tuple[GradedFunction, ...]
    written_answers: tuple[str, ...] = ()
    answer_points: float = 1.0

    @property
    def function_names(self) -> tuple[str, ...]:
        """Names of the graded functions, in order."""
        return tuple(f.name for f in self.functions)

    @property
    def autograded_points(self) -> float:
        """Points of all autograded functions (what the batch grader gives)."""
        return sum(f.points for f in self.functions)


def _notebook(name: str, functions: tuple[tuple[str, float], ...], answers: tuple[str, ...]) -> Notebook:
    return Notebook(name, tuple(GradedFunction(f, name, p) for f, p in functions), answers)


#: The graded notebooks, in course order.
NOTEBOOKS: dict[str, Notebook] = {
    nb.name: nb
    for nb in (
        _notebook(
            "NetworkVisualization",
            (
                ("compute_saliency_maps", 4.0),
                ("make_fooling_image", 4.0),
                ("class_visualization_update_step", 4.0),
            ),
            ("inline-answer-1", "inline-answer-2", "inline-answer-3", "inline-answer-4"),
        ),
        _notebook(
            "StyleTransfer",
            (("content_loss", 2.0), ("gram_matrix", 3.0), ("style_loss", 3.0), ("tv_loss", 3.0)),
            ("inline-answer-1", "inline-answer-2", "inline-answer-3", "inline-answer-4"),
        ),
    )
}

#: Every graded function by name, in notebook order.
FUNCTIONS: dict[str, GradedFunction] = {f.name: f for nb in NOTEBOOKS.values() for f in nb.functions}


def notebook_names() -> tuple[str, ...]:
    """The graded notebooks' names, in course order."""
    return tuple(NOTEBOOKS)
