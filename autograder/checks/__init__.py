"""The check framework: the plug-in base class of a graded function, comparisons, source rules.

The graded functions themselves are modules of :mod:`autograder.functions`. Modules here:
:mod:`~autograder.checks.base` (:class:`GradedFunction`, :class:`Mistake`, :class:`Verdict`, the default
judge), :mod:`~autograder.checks.compare` (relative errors, :class:`Tolerance`),
:mod:`~autograder.checks.errors` (errors students commonly hit), :mod:`~autograder.checks.source` (loop
and rebinding rules read from the student's source), :mod:`~autograder.checks.inputs` (check inputs
shared by several functions).
"""

from autograder.checks.base import FunctionReference, GradedFunction, GradingContext, Mistake, Verdict
from autograder.checks.compare import Tolerance, norm_rel_error, rel_error

__all__ = [
    "FunctionReference",
    "GradedFunction",
    "GradingContext",
    "Mistake",
    "Tolerance",
    "Verdict",
    "norm_rel_error",
    "rel_error",
]
