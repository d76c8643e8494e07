"""Grading one function: the single step shared by the self-check and the batch grader.

Given what the calls of the student's function produced (one
:class:`~autograder.runner.CallOutcome` per case, from the student's own kernel or from a sandbox) and
the references, :func:`grade_function` asks the function's check for a verdict and turns it into a
:class:`~autograder.grading.results.CheckResult` with points. The cases come from the references
(:attr:`References.functions`), whose digests were verified when they were loaded.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from autograder.checks.base import GradingContext, Verdict
from autograder.checks.source import Sources
from autograder.functions import FUNCTIONS
from autograder.grading.escaping import terminal_text
from autograder.grading.results import CheckResult
from autograder.references import References
from autograder.runner import CallOutcome
from autograder.settings import TextCaps

__all__ = ["grade_function"]


def grade_function(
    function: str,
    outcomes: Sequence[CallOutcome],
    refs: References,
    *,
    reference_set: str,
    sources: Sources | None,
    caps: TextCaps | None = None,
) -> CheckResult:
    """Grade the outcomes of one function's cases against the references.

    Args:
        function: the graded function's name.
        outcomes: what running it on ``refs[function].calls`` gave, in order; it may stop after the
            first case that did not run ``"ok"``.
        refs: the loaded references.
        reference_set: ``"public"`` or ``"hidden"`` (recorded in the result).
        sources: the student's source code, for the rules read from it (``None`` when unknown).
        caps: text caps (the printed output kept beside the verdict).

    Returns:
        The result. Points are the function's points times the verdict's fraction, rounded to 4 places
        and never outside ``[0, points]``. A check that cannot judge what came back (odd but plain
        data) fails the function with a message rather than raising. What the function printed is
        kept in :attr:`CheckResult.output`, never in the verdict's message.
    """
    caps = caps or TextCaps()
    fn = FUNCTIONS[function]
    try:
        verdict = fn.grade(outcomes, refs[function], GradingContext(sources=sources))
    except Exception as exc:  # e.g. a forged captured argument of the wrong kind
        verdict = Verdict(
            "failed",
            0.0,
            f"{function} returned something the check could not judge ({type(exc).__name__}: {exc})"[
                : caps.message_chars
            ],
            fn.fallback_hint(),
        )
    fraction = float(verdict.fraction)
    fraction = min(max(fraction, 0.0), 1.0) if math.isfinite(fraction) else 0.0
    printed = "\n".join(terminal_text(o.output).strip() for o in outcomes if o.output.strip())
    return CheckResult(
        function=function,
        check=reference_set,
        points=round(fn.points * fraction, 4),
        max_points=fn.points,
        status=verdict.status,
        message=verdict.message,
        hint=verdict.hint,
        rel_error=verdict.rel_error,
        threshold=verdict.threshold,
        mistake=verdict.mistake,
        seconds=sum(o.seconds for o in outcomes),
        output=printed[-caps.output_tail_chars :],
    )
