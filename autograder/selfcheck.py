"""The check called from the notebooks' graded cells: ``check("gram_matrix", gram_matrix)``.

Behaviour, chosen so that one function serves students and nbgrader:

* In a student's own session it prints one verdict line (``gram_matrix: PASSED  rel_error 3.1e-07 <
  1e-03``, or ``NOT IMPLEMENTED YET: ...``) and a hint, and returns the :class:`CheckResult`. It never
  raises for a wrong answer, so "Run All" goes on to the next part of the notebook.
* While nbgrader autogrades or validates (nbgrader sets ``NBGRADER_EXECUTION`` to ``"autograde"`` or
  ``"validate"`` in the environment the kernel inherits; see ``nbgrader/converters/autograde.py``),
  a check that is not fully passed raises :class:`AssertionError` with the same short message, so the
  grade cell fails and nbgrader gives it 0 points (nbgrader scores a test cell all-or-nothing).
  Set ``AUTOGRADER_STRICT=1`` to get this behaviour elsewhere (tests, CI).

The student's function runs in this process (the notebook's kernel) on fresh copies of the inputs and
of the model, with torch's global state reset before and after.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from autograder.checks.source import LiveSources
from autograder.functions import FUNCTIONS
from autograder.grading.function import grade_function
from autograder.grading.results import CheckResult
from autograder.references import cached_references
from autograder.runner import CallOutcome, InProcessRunner
from autograder.settings import (
    HIDDEN_REFERENCES_ENV,
    NBGRADER_EXECUTION_ENV,
    STRICT_ENV,
    hidden_references_from_env,
)
from course_utils.messages import wrap_message

__all__ = ["check", "is_strict", "run_check", "verdict_line"]


def is_strict() -> bool:
    """Whether failed checks raise: under nbgrader autograde/validate, or with ``AUTOGRADER_STRICT=1``."""
    return os.environ.get(NBGRADER_EXECUTION_ENV) in {"autograde", "validate"} or os.environ.get(
        STRICT_ENV, ""
    ) not in {"", "0"}


def verdict_line(result: CheckResult) -> str:
    """The one-line verdict a student sees, e.g. ``gram_matrix: PASSED  rel_error 3.1e-07 < 1e-03``."""
    if result.status == "not_implemented":
        return f"{result.function}: {result.message}"
    label = {"passed": "PASSED", "partial": "PARTIAL"}.get(result.status, "FAILED")
    points = f"  [{result.points:g}/{result.max_points:g} points]" if result.status == "partial" else ""
    return f"{result.function}: {label}  {result.message}{points}"


def run_check(function_name: str, func: Callable | None, hidden: bool = False) -> CheckResult:
    """Check a student function against the reference outputs, without printing or raising.

    Args:
        function_name: the graded function's name, e.g. ``"compute_saliency_maps"``.
        func: the student's function (pass it explicitly; nothing is looked up in globals).
        hidden: use the hidden references (instructor's grading); they are found through the
            ``AUTOGRADER_HIDDEN_REFERENCES`` environment variable.

    Returns:
        The check's result.

    Raises:
        KeyError: for an unknown function name.
        FileNotFoundError: when hidden references are requested but not configured.
    """
    if function_name not in FUNCTIONS:
        raise KeyError(f"no check named {function_name!r}; known: {', '.join(FUNCTIONS)}")
    which = "hidden" if hidden else "public"
    path = hidden_references_from_env() if hidden else None
    if hidden and path is None:
        raise FileNotFoundError(
            f"Hidden references are not configured: set {HIDDEN_REFERENCES_ENV} to the file written by "
            "`python -m autograder references --hidden --seed N --out PATH` (instructors only)."
        )
    refs = cached_references(which, path)
    runner = InProcessRunner({function_name: func} if func is not None else {})
    outcomes: list[CallOutcome] = []
    for call in refs[function_name].calls:  # the same cases, in the same order, as the batch grader
        outcomes.append(runner.run(function_name, call))
        if outcomes[-1].status != "ok":
            break
    return grade_function(
        function_name,
        outcomes,
        refs,
        reference_set=which,
        sources=LiveSources(function_name, func) if func is not None else None,
    )


def check(function_name: str, func: Callable | None, hidden: bool = False) -> None:
    """Check a student function against the reference outputs and print the verdict.

    Returns nothing, so that a notebook cell ending with ``check(...)`` shows only the verdict.

    Args:
        function_name: the graded function's name, e.g. ``"compute_saliency_maps"``.
        func: the student's function.
        hidden: use the hidden references (see :func:`run_check`).

    Raises:
        AssertionError: when the check is not fully passed and :func:`is_strict` is true.
    """
    if hidden and hidden_references_from_env() is None and not is_strict():
        # The solution notebook carries the hidden tests; outside grading they have nothing to run on.
        print(
            f"[hidden tests] {function_name}: not run here (instructors set {HIDDEN_REFERENCES_ENV} "
            "when grading)"
        )
        return
    result = run_check(function_name, func, hidden)
    text = verdict_line(result) + (
        f"\n  Hint: {result.hint}" if result.hint and result.status != "passed" else ""
    )
    if hidden:
        text = "[hidden tests] " + text
    if result.status != "passed" and is_strict():
        raise AssertionError(text)
    print(wrap_message(text))
