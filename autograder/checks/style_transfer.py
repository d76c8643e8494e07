"""Checks for StyleTransfer.ipynb: content loss, Gram matrix, style loss, total-variation loss."""

from __future__ import annotations

from typing import Any

import torch

from autograder.checks.base import (
    FunctionCheck,
    GradingContext,
    Variant,
    Verdict,
    compare_values,
    python_loops,
)
from autograder.runner import Call, CallOutcome
from autograder.tolerances import REL_ERROR

__all__ = ["ContentLossCheck", "GramMatrixCheck", "StyleLossCheck", "TVLossCheck"]


def _gram(features: torch.Tensor, divisor: float) -> torch.Tensor:
    n, c = features.shape[:2]
    flat = features.reshape(n, c, -1)
    return flat @ flat.transpose(1, 2) / divisor


class _ScalarLossCheck(FunctionCheck):
    """A loss: graded as one scalar within the function's relative-error threshold."""

    def judge(self, outcome: CallOutcome, expected: Any, call: Call, ctx: GradingContext) -> Verdict:
        """A scalar (Python number or one-element tensor) within the threshold of tolerances.REL_ERROR."""
        return compare_values(
            outcome.value, expected, REL_ERROR[self.function], ctx.variants, self.hint, scalar=True
        )


class ContentLossCheck(_ScalarLossCheck):
    """content_loss on random feature maps."""

    function = "content_loss"
    hint = "content_loss = content_weight * ((content_current - content_original) ** 2).sum()"

    def make_call(self, seed: int) -> Call:
        """Random (1, 16, 12, 12) current and original features and a weight in [0.02, 0.5] from the seed."""
        g = torch.Generator().manual_seed(seed + 10)
        weight = float(torch.empty(1).uniform_(0.02, 0.5, generator=g))  # far from 1: "weight missing" shows
        return Call(
            args=(weight, torch.randn(1, 16, 12, 12, generator=g), torch.randn(1, 16, 12, 12, generator=g))
        )

    def variants(self, call: Call, model: torch.nn.Module) -> dict[str, Variant]:
        """Norm not squared, mean instead of sum, weight forgotten."""
        w, cur, orig = call.args
        sq = (cur - orig).pow(2)
        return {
            "norm not squared": Variant(w * sq.sum().sqrt(), "Use the SQUARED L2 distance (no square root)."),
            "mean instead of sum": Variant(w * sq.mean(), "Sum the squared differences, don't average them."),
            "weight missing": Variant(sq.sum(), "Multiply by content_weight."),
        }


class GramMatrixCheck(FunctionCheck):
    """gram_matrix on a random batch of two feature maps, normalized."""

    function = "gram_matrix"
    hint = (
        "Reshape features to (N, C, H*W), then torch.bmm(F, F.transpose(1, 2)) gives (N, C, C); "
        "divide by H * W * C when normalize is True."
    )

    def make_call(self, seed: int) -> Call:
        """Random features of shape (2, 8, 6, 5)."""
        g = torch.Generator().manual_seed(seed + 11)
        return Call(args=(torch.randn(2, 8, 6, 5, generator=g),), kwargs={"normalize": True})

    def variants(self, call: Call, model: torch.nn.Module) -> dict[str, Variant]:
        """Unnormalized (half credit), normalized by H*W or C only, wrong dimensions transposed."""
        f = call.args[0]
        n, c, h, w = f.shape
        flat = f.reshape(n, c, h * w)
        return {
            "not normalized": Variant(
                _gram(f, 1.0),
                "Divide by H * W * C when normalize=True (you returned the raw Gram matrix).",
                0.5,
            ),
            "normalized by H*W only": Variant(
                _gram(f, h * w), "Normalize by the number of neurons H * W * C."
            ),
            "normalized by C only": Variant(_gram(f, c), "Normalize by the number of neurons H * W * C."),
            "wrong dimensions transposed": Variant(
                flat.transpose(1, 2) @ flat / (h * w * c),
                "You multiplied (N, HW, C) by (N, C, HW), giving (N, HW, HW). The Gram matrix is "
                "(N, C, C): torch.bmm(F, F.transpose(1, 2)) with F of shape (N, C, H*W).",
            ),
        }

    def judge(self, outcome: CallOutcome, expected: Any, call: Call, ctx: GradingContext) -> Verdict:
        """Shape (N, C, C), then 1e-3 relative error; the unnormalized matrix earns half."""
        return compare_values(outcome.value, expected, REL_ERROR[self.function], ctx.variants, self.hint)


class StyleLossCheck(_ScalarLossCheck):
    """style_loss over three of four random feature layers against random Gram targets."""

    function = "style_loss"
    hint = (
        "Loop over the style layers: loss += style_weights[i] * ((gram_matrix(feats[layer]) - "
        "style_targets[i]) ** 2).sum(). Use your gram_matrix (normalized)."
    )
    shapes = ((1, 4, 10, 10), (1, 6, 8, 8), (1, 8, 6, 6), (1, 5, 4, 4))
    layers = (0, 2, 3)

    def make_call(self, seed: int) -> Call:
        """Random features at four layers, targets that are Gram matrices of other random features."""
        g = torch.Generator().manual_seed(seed + 12)
        feats = [torch.randn(*s, generator=g) for s in self.shapes]
        targets = []
        for layer in self.layers:
            other = torch.randn(*self.shapes[layer], generator=g)
            targets.append(_gram(other, other[0].numel()))
        weights = [float(w) for w in torch.empty(len(self.layers)).uniform_(2.0, 20.0, generator=g)]
        return Call(args=(feats, list(self.layers), targets, weights))

    def variants(self, call: Call, model: torch.nn.Module) -> dict[str, Variant]:
        """Weights ignored, norm not squared, unnormalized Gram matrices."""
        feats, layers, targets, weights = call.args

        def loss(divide: bool, square: bool, weighted: bool) -> torch.Tensor:
            total = torch.zeros(())
            for layer, target, w in zip(layers, targets, weights, strict=True):
                gram = _gram(feats[layer], feats[layer][0].numel() if divide else 1.0)
                diff = (gram - target).pow(2).sum()
                total = total + (w if weighted else 1.0) * (diff if square else diff.sqrt())
            return total

        return {
            "weights ignored": Variant(
                loss(True, True, False), "Multiply each layer's term by style_weights[i]."
            ),
            "norm not squared": Variant(loss(True, False, True), "Use the SQUARED Frobenius distance."),
            "unnormalized Gram": Variant(
                loss(False, True, True), "Your Gram matrices are not normalized: check gram_matrix first."
            ),
        }


class TVLossCheck(FunctionCheck):
    """tv_loss on a random image; Python loops in the function fail the check."""

    function = "tv_loss"
    hint = (
        "Vectorize with slicing: tv_weight * (((img[..., 1:, :] - img[..., :-1, :]) ** 2).sum() + "
        "((img[..., :, 1:] - img[..., :, :-1]) ** 2).sum())."
    )

    def make_call(self, seed: int) -> Call:
        """A random (1, 3, 16, 20) image and a weight from the seed."""
        g = torch.Generator().manual_seed(seed + 13)
        weight = float(torch.empty(1).uniform_(0.01, 1.0, generator=g))
        return Call(args=(torch.randn(1, 3, 16, 20, generator=g), weight))

    def variants(self, call: Call, model: torch.nn.Module) -> dict[str, Variant]:
        """Absolute instead of squared differences, one direction only, mean instead of sum."""
        img, w = call.args
        dh = img[..., 1:, :] - img[..., :-1, :]
        dw = img[..., :, 1:] - img[..., :, :-1]
        return {
            "absolute differences": Variant(w * (dh.abs().sum() + dw.abs().sum()), "Square the differences."),
            "one direction only": Variant(
                w * dh.pow(2).sum(), "Add both vertical AND horizontal differences."
            ),
            "other direction only": Variant(
                w * dw.pow(2).sum(), "Add both vertical AND horizontal differences."
            ),
            "mean instead of sum": Variant(
                w * (dh.pow(2).mean() + dw.pow(2).mean()), "Sum the squared differences, don't average them."
            ),
        }

    def judge(self, outcome: CallOutcome, expected: Any, call: Call, ctx: GradingContext) -> Verdict:
        """A scalar within 1e-4 relative error, computed without Python loops."""
        verdict = compare_values(
            outcome.value, expected, REL_ERROR[self.function], ctx.variants, self.hint, True
        )
        loops = python_loops(ctx.source)
        if loops and verdict.status in {"passed", "partial"}:
            return Verdict(
                "failed",
                0.0,
                f"values match ({verdict.message}) but tv_loss uses a Python loop "
                f"(line {loops[0]} of the function)",
                "The TV loss must be vectorized: use tensor slicing over whole images, no for/while loops or "
                "comprehensions.",
                verdict.rel_error,
                verdict.threshold,
            )
        return verdict
