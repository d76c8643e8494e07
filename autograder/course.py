"""The course's notebooks: their names, order and written answers.

The graded functions of each notebook are plug-ins, one module each under :mod:`autograder.functions`,
that name their notebook (:func:`autograder.functions.functions_of` lists them; nothing here imports
them, so every layer may know the notebooks). A test
(``tests/autograder/test_course.py``) compares both with the nbgrader metadata of ``solutions/``, so the
points students see in nbgrader and the points the batch grader gives cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["NOTEBOOKS", "Notebook", "notebook_names"]


@dataclass(frozen=True)
class Notebook:
    """One graded notebook (``solutions/<name>.ipynb`` -> ``notebooks/<name>.ipynb``).

    Attributes:
        name: file stem, e.g. ``"StyleTransfer"``; also its nbgrader assignment name.
        written_answers: ``grade_id`` of each manually graded written answer (inline question).
        answer_points: points of each written answer.
    """

    name: str
    written_answers: tuple[str, ...] = ()
    answer_points: float = 1.0


def _answers(count: int) -> tuple[str, ...]:
    return tuple(f"inline-answer-{i}" for i in range(1, count + 1))


#: The graded notebooks, in course order.
NOTEBOOKS: dict[str, Notebook] = {
    nb.name: nb
    for nb in (
        Notebook("NetworkVisualization", _answers(4)),
        Notebook("StyleTransfer", _answers(4)),
        Notebook("Attribution", _answers(5)),
    )
}


def notebook_names() -> tuple[str, ...]:
    """The graded notebooks' names, in course order."""
    return tuple(NOTEBOOKS)
