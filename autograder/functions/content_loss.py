"""``content_loss`` (StyleTransfer): the weighted squared distance between two feature maps."""

from __future__ import annotations

from typing import Any

import torch

from autograder.checks.base import GradedFunction, Mistake
from autograder.checks.compare import Tolerance
from autograder.functions import register
from autograder.runner import Call


@register
class ContentLoss(GradedFunction):
    """Random current and original features (1, 16, 12, 12) and a weight in [0.02, 0.5]."""

    name = "content_loss"
    notebook = "StyleTransfer"
    order = 1
    points = 2.0
    scalar = True
    tolerance = Tolerance(1e-3, why="CS231n's threshold; the closest mistake (weight missing) is 0.61 away.")
    hint = (
        "Checked: your scalar for random current and original features of shape (1, 16, 12, 12) and a "
        "content weight in [0.02, 0.5], against the reference (accepted when rel_error < {threshold}). "
        "Re-read 'Content loss': the formula L_c is the content weight times the SUM over every element of "
        "the squared difference between current and original features; return it as a scalar."
    )
    mistakes = (
        Mistake(
            "content_not_squared",
            "norm not squared",
            "Use the SQUARED L2 distance (no square root), as in L_c.",
        ),
        Mistake(
            "content_mean_instead_of_sum",
            "mean instead of sum",
            "Sum the squared differences, don't average them: the mean divides the loss by the number of "
            "elements, C times H times W.",
        ),
        Mistake(
            "content_weight_missing", "weight missing", "Multiply by content_weight (w_c in the formula)."
        ),
    )

    def cases(self, params: dict[str, Any]) -> list[Call]:
        """Random (1, 16, 12, 12) features and a weight far from 1 (so a missing weight shows)."""
        g = torch.Generator().manual_seed(params["seed"] + 10)
        weight = float(torch.empty(1).uniform_(0.02, 0.5, generator=g))
        current, original = torch.randn(1, 16, 12, 12, generator=g), torch.randn(1, 16, 12, 12, generator=g)
        return [Call(args=(weight, current, original))]
