"""The check library: one check per graded function, registered by function name."""

from __future__ import annotations

from autograder.checks.base import FunctionCheck, GradingContext, Variant, Verdict, rel_error
from autograder.checks.network_visualization import (
    ClassVisualizationStepCheck,
    FoolingCheck,
    SaliencyCheck,
)
from autograder.checks.style_transfer import ContentLossCheck, GramMatrixCheck, StyleLossCheck, TVLossCheck

__all__ = [
    "CHECKS",
    "NOTEBOOKS",
    "FunctionCheck",
    "GradingContext",
    "Variant",
    "Verdict",
    "checks_for",
    "rel_error",
]

#: Every check, keyed by the graded function's name, in notebook order.
CHECKS: dict[str, FunctionCheck] = {
    check.function: check
    for check in (
        SaliencyCheck(),
        FoolingCheck(),
        ClassVisualizationStepCheck(),
        ContentLossCheck(),
        GramMatrixCheck(),
        StyleLossCheck(),
        TVLossCheck(),
    )
}

#: The graded notebooks, by name (the solution and student files are ``<name>.ipynb``).
NOTEBOOKS: tuple[str, ...] = ("NetworkVisualization", "StyleTransfer")


def checks_for(notebook: str) -> list[FunctionCheck]:
    """The checks of one notebook, in order."""
    if notebook not in NOTEBOOKS:
        raise KeyError(f"unknown notebook {notebook!r}; known: {', '.join(NOTEBOOKS)}")
    return [c for c in CHECKS.values() if c.notebook == notebook]
