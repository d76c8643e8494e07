"""``style_loss`` (StyleTransfer): weighted squared distances of Gram matrices over the style layers."""

from __future__ import annotations

from typing import Any

import torch

from autograder.checks.base import GradedFunction, Mistake
from autograder.checks.compare import Tolerance
from autograder.functions import register
from autograder.runner import Call

#: Feature shapes of the four layers; layers 1-3 have the same number of channels, so a loop that
#: indexes feats by position (0, 1, 2) instead of by style_layers (0, 2, 3) gives a value, not an error.
SHAPES = ((1, 4, 10, 10), (1, 6, 8, 8), (1, 6, 6, 6), (1, 6, 4, 4))
#: Scale of each layer's features, different so that a layer taken for another changes the loss a lot.
SCALES = (1.0, 3.0, 1.0, 0.5)
LAYERS = (0, 2, 3)


@register
class StyleLoss(GradedFunction):
    """Features at four layers, style_layers [0, 2, 3], (1, C, C) targets, weights in [2, 20]."""

    name = "style_loss"
    notebook = "StyleTransfer"
    order = 3
    points = 3.0
    scalar = True
    tolerance = Tolerance(
        1e-3, why="CS231n's threshold; the closest mistakes (not squared, feats by position) are 0.2 away."
    )
    hint = (
        "Checked: your scalar for features at 4 layers, style_layers [0, 2, 3], 3 style targets (already "
        "normalized Gram matrices of shape (1, C, C)) and 3 style weights in [2, 20], against the reference "
        "(accepted when rel_error < {threshold}). Re-read 'Style loss': for each style layer, its weight "
        "times the SQUARED Frobenius distance between the normalized Gram matrix of the current features at "
        "THAT layer and its target, summed over the style layers."
    )
    mistakes = (
        Mistake(
            "style_weights_ignored", "weights ignored", "Multiply each layer's term by style_weights[i]."
        ),
        Mistake(
            "style_not_squared", "norm not squared", "Use the SQUARED Frobenius distance (no square root)."
        ),
        Mistake(
            "style_unnormalized_gram",
            "unnormalized Gram matrices of the current features",
            "The Gram matrices in your loss are not divided by H * W * C, while the targets are normalized "
            "Gram matrices, so every layer compares two different scales. Call gram_matrix with normalize "
            "left True (its default); if gram_matrix passed its own check, look at how style_loss calls it "
            "(a normalize=False argument).",
        ),
        Mistake(
            "style_feats_by_position",
            "feats indexed by position instead of by layer",
            "You indexed feats by the loop position (0, 1, 2, ...) instead of by the layer index: feats "
            "holds EVERY layer, and style_layers[i] says which one goes with style_targets[i] and "
            "style_weights[i].",
        ),
        Mistake(
            "style_gram_of_target",
            "Gram matrix of the target taken again",
            "style_targets already holds Gram matrices, of shape (N, C, C) (see the docstring): compare the "
            "Gram matrix of the current features directly with the target, without taking the Gram matrix of "
            "the target again (gram_matrix expects (N, C, H, W) features).",
            error_text=("(expected 4, got 3)",),
        ),
    )

    def cases(self, params: dict[str, Any]) -> list[Call]:
        """Random features at four layers (of different scales) and random (1, C, C) targets in [0, 0.5)."""
        g = torch.Generator().manual_seed(params["seed"] + 12)
        feats = [
            scale * torch.randn(*shape, generator=g) for shape, scale in zip(SHAPES, SCALES, strict=True)
        ]
        targets = [0.5 * torch.rand(1, SHAPES[layer][1], SHAPES[layer][1], generator=g) for layer in LAYERS]
        weights = [float(w) for w in torch.empty(len(LAYERS)).uniform_(2.0, 20.0, generator=g)]
        return [Call(args=(feats, list(LAYERS), targets, weights))]
