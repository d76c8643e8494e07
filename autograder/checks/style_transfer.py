"""Checks for StyleTransfer.ipynb: content loss, Gram matrix, style loss, total-variation loss."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from autograder.checks.base import (
    FunctionCheck,
    GradingContext,
    KnownMistake,
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
    hint = (
        "Measured: your scalar for random current and original features of shape (1, 16, 12, 12) and a "
        "content weight in [0.02, 0.5], against the reference (rel_error shown above; accepted < 1e-3). "
        "Re-read 'Content loss': the formula L_c is the content weight times the SUM over every element "
        "of the squared difference between current and original features; return it as a scalar."
    )
    known: ClassVar[dict[str, KnownMistake]] = {
        "content_not_squared": KnownMistake(
            "norm not squared", "Use the SQUARED L2 distance (no square root), as in the formula L_c."
        ),
        "content_mean_instead_of_sum": KnownMistake(
            "mean instead of sum",
            "Sum the squared differences, don't average them: the mean divides the loss by the number "
            "of elements C * H * W.",
        ),
        "content_weight_missing": KnownMistake(
            "weight missing", "Multiply by content_weight (w_c in the formula)."
        ),
    }

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
        outputs = {
            "content_not_squared": w * sq.sum().sqrt(),
            "content_mean_instead_of_sum": w * sq.mean(),
            "content_weight_missing": sq.sum(),
        }
        return {name: self.variant(name, output) for name, output in outputs.items()}


class GramMatrixCheck(FunctionCheck):
    """gram_matrix on a random batch of two feature maps, normalized."""

    function = "gram_matrix"
    hint = (
        "Measured: your result for random features of shape (2, 8, 6, 5) with normalize=True, against "
        "the reference of shape (N, C, C) = (2, 8, 8) (rel_error shown above; accepted < 1e-3). Re-read "
        "'Style loss: the Gram matrix': flatten each image's spatial dimensions, take the inner product "
        "of every pair of channels (one batched matrix product), and divide by the number of neurons "
        "H * W * C when normalize is True."
    )
    known: ClassVar[dict[str, KnownMistake]] = {
        "gram_unnormalized": KnownMistake(
            "not normalized",
            "Divide by H * W * C when normalize=True (you returned the raw Gram matrix).",
            0.5,
        ),
        "gram_normalized_by_hw": KnownMistake(
            "normalized by H*W only", "Normalize by the number of neurons H * W * C (all three factors)."
        ),
        "gram_normalized_by_c": KnownMistake(
            "normalized by C only", "Normalize by the number of neurons H * W * C (all three factors)."
        ),
        "gram_wrong_transpose": KnownMistake(
            "wrong dimensions transposed",
            "You multiplied (N, HW, C) by (N, C, HW), giving (N, HW, HW). The Gram matrix is "
            "(N, C, C): inner products between CHANNELS, so the transposed copy is the right-hand factor.",
        ),
    }

    def make_call(self, seed: int) -> Call:
        """Random features of shape (2, 8, 6, 5)."""
        g = torch.Generator().manual_seed(seed + 11)
        return Call(args=(torch.randn(2, 8, 6, 5, generator=g),), kwargs={"normalize": True})

    def variants(self, call: Call, model: torch.nn.Module) -> dict[str, Variant]:
        """Unnormalized (half credit), normalized by H*W or C only, wrong dimensions transposed."""
        f = call.args[0]
        n, c, h, w = f.shape
        flat = f.reshape(n, c, h * w)
        outputs = {
            "gram_unnormalized": _gram(f, 1.0),
            "gram_normalized_by_hw": _gram(f, h * w),
            "gram_normalized_by_c": _gram(f, c),
            "gram_wrong_transpose": flat.transpose(1, 2) @ flat / (h * w * c),
        }
        return {name: self.variant(name, output) for name, output in outputs.items()}

    def judge(self, outcome: CallOutcome, expected: Any, call: Call, ctx: GradingContext) -> Verdict:
        """Shape (N, C, C), then 1e-3 relative error; the unnormalized matrix earns half."""
        return compare_values(outcome.value, expected, REL_ERROR[self.function], ctx.variants, self.hint)


class StyleLossCheck(_ScalarLossCheck):
    """style_loss over three of four random feature layers against random Gram targets.

    Layers 1, 2 and 3 have the same number of channels, so a loop that indexes ``feats`` by its
    position (0, 1, 2) instead of by ``style_layers`` (0, 2, 3) gives a value (a named mistake)
    rather than a shape error.
    """

    function = "style_loss"
    hint = (
        "Measured: your scalar for features at 4 layers, style_layers [0, 2, 3], 3 style targets (already "
        "normalized Gram matrices of shape (1, C, C)) and 3 style weights in [2, 20], against the "
        "reference (rel_error shown above; accepted < 1e-3). Re-read 'Style loss': for each style layer, "
        "its weight times the SQUARED Frobenius distance between the normalized Gram matrix of the "
        "current features at THAT layer and its target, summed over the style layers."
    )
    known: ClassVar[dict[str, KnownMistake]] = {
        "style_weights_ignored": KnownMistake(
            "weights ignored", "Multiply each layer's term by style_weights[i]."
        ),
        "style_not_squared": KnownMistake(
            "norm not squared", "Use the SQUARED Frobenius distance (no square root)."
        ),
        "style_unnormalized_gram": KnownMistake(
            "unnormalized Gram matrices of the current features",
            "The Gram matrices in your loss are not divided by H * W * C, while the targets are "
            "normalized Gram matrices, so every layer compares two different scales. Call gram_matrix "
            "with normalize left True (its default); if gram_matrix passed its own check, look at how "
            "style_loss calls it (a normalize=False argument).",
        ),
        "style_feats_by_position": KnownMistake(
            "feats indexed by position instead of by layer",
            "You indexed feats by the loop position (0, 1, 2, ...) instead of by the layer index: feats "
            "holds EVERY layer, and style_layers[i] says which one goes with style_targets[i] and "
            "style_weights[i].",
        ),
        "style_gram_of_target": KnownMistake(
            "Gram matrix of the target taken again",
            "style_targets already holds Gram matrices, of shape (N, C, C) (see the docstring), so "
            "gram_matrix of a target fails (it expects (N, C, H, W) features). Compare the Gram matrix "
            "of the current features directly with the target.",
        ),
    }
    shapes = ((1, 4, 10, 10), (1, 6, 8, 8), (1, 6, 6, 6), (1, 6, 4, 4))
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
        """Weights ignored, norm not squared, unnormalized Gram matrices, feats indexed by position."""
        feats, layers, targets, weights = call.args

        def loss(divide: bool, square: bool, weighted: bool, by_position: bool = False) -> torch.Tensor:
            total = torch.zeros(())
            for i, (layer, target, w) in enumerate(zip(layers, targets, weights, strict=True)):
                f = feats[i if by_position else layer]
                diff = (_gram(f, f[0].numel() if divide else 1.0) - target).pow(2).sum()
                total = total + (w if weighted else 1.0) * (diff if square else diff.sqrt())
            return total

        outputs = {
            "style_weights_ignored": loss(True, True, False),
            "style_not_squared": loss(True, False, True),
            "style_unnormalized_gram": loss(False, True, True),
            "style_feats_by_position": loss(True, True, True, by_position=True),
        }
        return {name: self.variant(name, output) for name, output in outputs.items()}

    def error_mistake(self, message: str) -> str:
        """A 3-D tensor unpacked as (N, C, H, W): gram_matrix was given a target, a (N, C, C) Gram matrix."""
        return "style_gram_of_target" if "expected 4, got 3" in message else ""


class TVLossCheck(FunctionCheck):
    """tv_loss on a random image; Python loops in the function fail the check."""

    function = "tv_loss"
    hint = (
        "Measured: your scalar for a random (1, 3, 16, 20) image and a TV weight in [0.01, 1], against "
        "the reference (rel_error shown above; accepted < 1e-4). Re-read 'Total-variation "
        "regularization': the weight times the sum, over all channels, of the squared differences of "
        "vertically adjacent pixels PLUS those of horizontally adjacent pixels, computed on shifted "
        "slices of the whole image (no loops)."
    )
    known: ClassVar[dict[str, KnownMistake]] = {
        "tv_absolute_differences": KnownMistake(
            "absolute differences", "Square the differences (the formula uses squares, not absolute values)."
        ),
        "tv_one_direction": KnownMistake(
            "one direction only", "Add both vertical AND horizontal differences."
        ),
        "tv_other_direction": KnownMistake(
            "other direction only", "Add both vertical AND horizontal differences."
        ),
        "tv_mean_instead_of_sum": KnownMistake(
            "mean instead of sum", "Sum the squared differences, don't average them."
        ),
        "tv_python_loop": KnownMistake(
            "Python loop",
            "The TV loss must be vectorized: use tensor slicing over whole images, no for/while loops or "
            "comprehensions.",
        ),
    }

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
        outputs = {
            "tv_absolute_differences": w * (dh.abs().sum() + dw.abs().sum()),
            "tv_one_direction": w * dh.pow(2).sum(),
            "tv_other_direction": w * dw.pow(2).sum(),
            "tv_mean_instead_of_sum": w * (dh.pow(2).mean() + dw.pow(2).mean()),
        }
        return {name: self.variant(name, output) for name, output in outputs.items()}

    def judge(self, outcome: CallOutcome, expected: Any, call: Call, ctx: GradingContext) -> Verdict:
        """A scalar within 1e-4 relative error, computed without Python loops."""
        verdict = compare_values(
            outcome.value, expected, REL_ERROR[self.function], ctx.variants, self.hint, True
        )
        loops = python_loops(ctx.source)
        if loops and verdict.status in {"passed", "partial"}:
            return self.named(
                "tv_python_loop",
                f"values match ({verdict.message}) but tv_loss uses a Python loop "
                f"(line {loops[0]} of the function)",
                verdict.rel_error,
                verdict.threshold,
            )
        return verdict
