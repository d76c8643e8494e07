"""Grading one function: the single step shared by the self-check and the batch grader.

Given what a call of the student's function produced (a :class:`~autograder.runner.CallOutcome`, from
the student's own kernel or from a sandbox) and the references, :func:`grade_function` asks the
function's check for a verdict and turns it into a :class:`~autograder.grading.results.CheckResult`
with points. The check's inputs come from the references (:attr:`References.calls`), whose digests
were verified when they were loaded.
"""

from __future__ import annotations

import math

import torch

from autograder.checks import CHECKS, GradingContext, Verdict
from autograder.grading.results import CheckResult
from autograder.references import References
from autograder.runner import CallOutcome
from autograder.settings import TextCaps

__all__ = ["grade_function"]


def grade_function(
    function: str,
    outcome: CallOutcome,
    refs: References,
    *,
    reference_set: str,
    model: torch.nn.Module | None,
    source: str | None,
    caps: TextCaps | None = None,
) -> CheckResult:
    """Grade one call's outcome against the references.

    Args:
        function: the graded function's name.
        outcome: what running it on ``refs.calls[function]`` gave.
        refs: the loaded references.
        reference_set: ``"public"`` or ``"hidden"`` (recorded in the result).
        model: the grader's own pristine model (checks that judge by property use it).
        source: the student's function source, for loop detection (``None`` when unknown).
        caps: text caps (the printed output appended to a failed check's message).

    Returns:
        The result. Points are the check's points times the verdict's fraction, rounded to 4 places
        and never outside ``[0, points]``. A check that cannot judge what came back (odd but plain
        data) fails the function with a message rather than raising.
    """
    caps = caps or TextCaps()
    check = CHECKS[function]
    call = refs.calls[function]
    ctx = GradingContext(model=model, source=source, variants=refs.variants(function))
    try:
        verdict = check.grade(outcome, refs.expected(function), call, ctx)
    except Exception as exc:  # e.g. a forged captured argument of the wrong kind
        verdict = Verdict(
            "failed",
            0.0,
            f"{function} returned something the check could not judge ({type(exc).__name__}: {exc})"[
                : caps.message_chars
            ],
            check.hint,
        )
    message = verdict.message
    if outcome.output.strip() and verdict.status != "passed":
        message += f"\nOutput:\n{outcome.output.strip()[-caps.output_tail_chars :]}"
    fraction = float(verdict.fraction)
    fraction = min(max(fraction, 0.0), 1.0) if math.isfinite(fraction) else 0.0
    return CheckResult(
        function=function,
        check=reference_set,
        points=round(check.points * fraction, 4),
        max_points=check.points,
        status=verdict.status,
        message=message,
        hint=verdict.hint,
        rel_error=verdict.rel_error,
        threshold=verdict.threshold,
        mistake=verdict.mistake,
        seconds=outcome.seconds,
    )
