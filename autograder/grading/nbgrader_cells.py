"""Which of nbgrader's code grade cells checks which graded function, and what each cell scores.

Plain mapping, no gradebook: a grade cell's functions are the ``check("name", ...)`` calls in its
source as ``nbgrader generate_assignment`` stored it from the source notebook, and the cell gets its
nbgrader points times the fraction of the sandboxed points those functions earned (partial credit is
kept; nbgrader alone scores a test cell all or nothing). Used by
:mod:`autograder.grading.nbgrader_gradebook`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from autograder.grading.results import CheckResult, SubmissionResult, clamp
from autograder.status import status_label

__all__ = ["VERDICT_HEADER", "CellScore", "GradeCellInfo", "cell_functions", "cell_scores"]

#: A graded cell's call of the check: ``check("gram_matrix", gram_matrix)`` (hidden or not).
_CHECK_CALL = re.compile(r"""\bcheck\(\s*["'](\w+)["']""")
#: First line of each grade cell's output in the autograded notebook.
VERDICT_HEADER = "Graded by the isolated batch grader (python -m autograder grade), not in this kernel."


@dataclass(frozen=True)
class GradeCellInfo:
    """A code grade cell as nbgrader's gradebook holds it.

    Attributes:
        name: the cell's ``grade_id``, e.g. ``"test_gram_matrix"``.
        source: the cell's source from the source notebook (hidden tests included).
        max_score: the cell's ``points``.
    """

    name: str
    source: str
    max_score: float


@dataclass
class CellScore:
    """The sandboxed score of one code grade cell.

    Attributes:
        grade_id: the grade cell's ``grade_id``.
        functions: the graded functions the cell checks.
        auto_score: points for ``Grade.auto_score``, in ``[0, max_score]``.
        max_score: the cell's points in nbgrader.
        text: the verdicts, written as the cell's output in the autograded notebook.
    """

    grade_id: str
    functions: list[str]
    auto_score: float
    max_score: float
    text: str


def cell_functions(source: str) -> list[str]:
    """The graded functions a grade cell checks, in order of first call, each once."""
    return list(dict.fromkeys(_CHECK_CALL.findall(source)))


def _verdict(check: CheckResult) -> str:
    points = f"{check.earned:g}/{check.max_points:g} points"
    line = f"{check.function}: {status_label(check.status).upper()}  {points}  {check.message}"
    if check.hint and check.status != "passed":
        line += f"\n  Hint: {check.hint}"
    return line


def cell_scores(
    result: SubmissionResult, cells: Sequence[GradeCellInfo]
) -> tuple[list[CellScore], list[str]]:
    """Map a result's per-function points onto the notebook's code grade cells.

    A cell worth ``max_score`` that checks functions ``f1, f2...`` gets
    ``max_score * sum(points) / sum(max_points)`` over those functions' checks (each check's points
    clamped, as every writer does).

    Returns:
        ``(scores, warnings)``: one score per cell that checks at least one graded function the
        result holds; warnings for cells left unscored (they keep what they had) and for graded
        functions no cell checks (their points do not reach nbgrader).
    """
    by_function: dict[str, list[CheckResult]] = {}
    for check in result.checks:
        by_function.setdefault(check.function, []).append(check)
    scores: list[CellScore] = []
    warnings: list[str] = []
    covered: set[str] = set()
    for cell in cells:
        functions = cell_functions(cell.source)
        missing = [f for f in functions if f not in by_function]
        if not functions or missing:
            what = f"no sandboxed result for {', '.join(missing)}" if missing else "it calls no check(...)"
            warnings.append(f"grade cell {cell.name} left as it was: {what}; grade it in formgrader")
            continue
        checks = [c for f in functions for c in by_function[f]]
        available = sum(c.max_points for c in checks)
        fraction = sum(c.earned for c in checks) / available if available > 0 else 0.0
        scores.append(
            CellScore(
                grade_id=cell.name,
                functions=functions,
                auto_score=round(cell.max_score * clamp(fraction, 1.0), 4),
                max_score=cell.max_score,
                text="\n".join([VERDICT_HEADER, *(_verdict(c) for c in checks)]) + "\n",
            )
        )
        covered.update(functions)
    for function in by_function:
        if function not in covered:
            warnings.append(f"{function} is checked by no grade cell: its points are not in nbgrader")
    return scores, warnings
