"""``gram_matrix`` (StyleTransfer): inner products of every pair of channels, optionally normalized."""

from __future__ import annotations

from typing import Any

import torch

from autograder.checks.base import FunctionReference, GradedFunction, Mistake
from autograder.checks.compare import Tolerance
from autograder.functions import register
from autograder.runner import Call

_ALL_THREE = "Normalize by the number of neurons, H times W times C (all three factors)."


@register
class GramMatrix(GradedFunction):
    """A random batch of two feature maps (2, 8, 6, 5), with normalize=True and with normalize=False."""

    name = "gram_matrix"
    notebook = "StyleTransfer"
    order = 2
    points = 3.0
    tolerance = Tolerance(
        1e-3, why="CS231n's threshold; the closest mistake (normalized by H*W) is 0.78 away."
    )
    hint = (
        "Checked: your result for random features of shape (2, 8, 6, 5), with normalize=True and with "
        "normalize=False, against the reference of shape (N, C, C) = (2, 8, 8) (accepted when rel_error < "
        "{threshold}). Re-read 'Style loss: the Gram matrix': flatten each image's spatial dimensions, take "
        "the inner product of every pair of channels (one batched matrix product), and divide by the number "
        "of neurons H * W * C only when normalize is True."
    )
    mistakes = (
        Mistake(
            "gram_unnormalized",
            "never normalized",
            "Divide by H * W * C when normalize=True (you returned the raw Gram matrix).",
            credit=0.5,
        ),
        Mistake(
            "gram_always_normalized",
            "normalized even with normalize=False",
            "Divide by H * W * C only when normalize is True: with normalize=False the caller wants the raw "
            "Gram matrix.",
            credit=0.5,
        ),
        Mistake("gram_normalized_by_hw", "normalized by H*W only", _ALL_THREE),
        Mistake("gram_normalized_by_c", "normalized by C only", _ALL_THREE),
        Mistake(
            "gram_wrong_transpose",
            "wrong dimensions transposed",
            "You multiplied (N, HW, C) by (N, C, HW), giving (N, HW, HW). The Gram matrix is (N, C, C): "
            "inner products between CHANNELS, so the transposed copy is the right-hand factor.",
        ),
        Mistake(
            "gram_python_loop",
            "Python loop",
            "Compute all the Gram matrices with one batched matrix product, no loop over channels or images: "
            "the style-transfer loop calls gram_matrix at every step for every style layer, and a Python "
            "loop there makes a transfer take many minutes instead of seconds.",
            credit=1 / 3,
            detect="loops",
        ),
    )

    def cases(self, params: dict[str, Any]) -> list[Call]:
        """The same random features (2, 8, 6, 5) with normalize=True, then normalize=False."""
        features = torch.randn(2, 8, 6, 5, generator=torch.Generator().manual_seed(params["seed"] + 11))
        return [Call(args=(features,), kwargs={"normalize": flag}) for flag in (True, False)]

    def case_labels(self, ref: FunctionReference) -> list[str]:
        """``normalize=True``, ``normalize=False``."""
        return [f"normalize={call.kwargs['normalize']}" for call in ref.calls]
