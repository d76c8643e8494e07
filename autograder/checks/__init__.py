"""The check library: one check per graded function, keyed by the registry's function names."""

from __future__ import annotations

from autograder.checks.base import FunctionCheck, GradingContext, Variant, Verdict, rel_error
from autograder.checks.network_visualization import (
    ClassVisualizationStepCheck,
    FoolingCheck,
    SaliencyCheck,
)
from autograder.checks.style_transfer import ContentLossCheck, GramMatrixCheck, StyleLossCheck, TVLossCheck
from autograder.course import FUNCTIONS, NOTEBOOKS

__all__ = [
    "CHECKS",
    "FunctionCheck",
    "GradingContext",
    "Variant",
    "Verdict",
    "checks_for",
    "rel_error",
]

_ALL = (
    SaliencyCheck(),
    FoolingCheck(),
    ClassVisualizationStepCheck(),
    ContentLossCheck(),
    GramMatrixCheck(),
    StyleLossCheck(),
    TVLossCheck(),
)

#: Every check, keyed by the graded function's name, in the registry's order.
CHECKS: dict[str, FunctionCheck] = {name: next(c for c in _ALL if c.function == name) for name in FUNCTIONS}
if len(_ALL) != len(CHECKS):
    raise RuntimeError("every check must be for a function of autograder.course, and every function checked")


def checks_for(notebook: str) -> list[FunctionCheck]:
    """The checks of one notebook, in order."""
    if notebook not in NOTEBOOKS:
        raise KeyError(f"unknown notebook {notebook!r}; known: {', '.join(NOTEBOOKS)}")
    return [CHECKS[f] for f in NOTEBOOKS[notebook].function_names]
