"""``tv_loss`` (StyleTransfer): the weighted total variation of an image, vectorized."""

from __future__ import annotations

from typing import Any

import torch

from autograder.checks.base import GradedFunction, Mistake
from autograder.checks.compare import Tolerance
from autograder.functions import register
from autograder.runner import Call

_BOTH = "Add both vertical AND horizontal differences."


@register
class TVLoss(GradedFunction):
    """A random (1, 3, 16, 20) image and a TV weight in [0.01, 1]; Python loops cost the points."""

    name = "tv_loss"
    notebook = "StyleTransfer"
    order = 4
    points = 3.0
    scalar = True
    tolerance = Tolerance(
        1e-4, why="CS231n's threshold; the closest mistake (absolute differences) is 0.31 away."
    )
    hint = (
        "Checked: your scalar for a random (1, 3, 16, 20) image and a TV weight in [0.01, 1], against the "
        "reference (accepted when rel_error < {threshold}). Re-read 'Total-variation regularization': the "
        "weight times the sum, over all channels, of the squared differences of vertically adjacent pixels "
        "PLUS those of horizontally adjacent pixels, computed on shifted slices of the whole image (no "
        "loops)."
    )
    mistakes = (
        Mistake(
            "tv_absolute_differences",
            "absolute differences",
            "Square the differences (the formula uses squares, not absolute values).",
        ),
        Mistake("tv_one_direction", "one direction only", _BOTH),
        Mistake("tv_other_direction", "other direction only", _BOTH),
        Mistake(
            "tv_mean_instead_of_sum",
            "mean instead of sum",
            "Sum the squared differences, don't average them.",
        ),
        Mistake(
            "tv_python_loop",
            "Python loop",
            "The TV loss must be vectorized: use tensor slicing over whole images, no for/while loops or "
            "comprehensions (in the function or in a helper it calls).",
            detect="loops",
        ),
    )

    def cases(self, params: dict[str, Any]) -> list[Call]:
        """A random (1, 3, 16, 20) image and a weight from the seed."""
        g = torch.Generator().manual_seed(params["seed"] + 13)
        weight = float(torch.empty(1).uniform_(0.01, 1.0, generator=g))
        return [Call(args=(torch.randn(1, 3, 16, 20, generator=g), weight))]
