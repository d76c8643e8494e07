"""``integrated_gradients`` (Attribution): the right Riemann sum of the score's gradient along a path."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from autograder.checks.base import GradedFunction, Mistake
from autograder.checks.compare import Tolerance
from autograder.checks.inputs import bundled_photos, photo_count
from autograder.functions import register
from autograder.runner import MODEL_FLOAT64, Call

#: Side of the check images (px), number of images and of steps: four steps separate the quadrature
#: rules (two rules differ by O(1/steps)) and keep the check at 4 passes of 2 small images.
IMAGE_SIZE, IMAGES, STEPS = 64, 2, 4

_SCALE = (
    "Right pattern, wrong scale: your attributions are {what}. {why} Only then do the attributions add up to "
    "the score difference (completeness)."
)
_RULE = "The stated rule, 'riemann_right', uses alpha = k/m for k = 1 .. m."


@register
class IntegratedGradients(GradedFunction):
    """Two photos at 64 px (float64), their labels, a baseline of one random colour per image, 4 steps."""

    name = "integrated_gradients"
    notebook = "Attribution"
    order = 1
    stub_returns = "attributions"
    points = 4.0
    tolerance = Tolerance(
        1e-4,
        "norm",
        why="Float64 (inputs and a float64 copy of the model), as for saliency: 1 vs 2 threads and one image "
        "at a time agree within 4.6e-16, a float32 result buffer within 1.3e-8 (seeds 0-3, "
        "bench/bench_attribution_checks.py). The closest mistake (left Riemann sum) is 0.16 away.",
    )
    hint = (
        "Checked: your attributions for 2 bundled photos (64 px, their labels) from a baseline of one colour "
        "per image with 4 steps, against the reference of shape (N, 3, H, W) (accepted when the norm-based "
        "rel_error is below {threshold}). Re-read 'Integrated Gradients': the right Riemann sum over alpha = "
        "k/m, k = 1 .. m, of the gradient of the unnormalized class score at the point alpha of the way from "
        "the baseline to the image, averaged over the steps, times how far the image is from the baseline."
    )
    mistakes = (
        Mistake(
            "ig_no_input_minus_baseline",
            "average gradient, not multiplied by (input - baseline)",
            "Your result is the average gradient along the path. Integrated Gradients multiplies it, element "
            "by element, by how far the input is from the baseline: that factor makes the attributions add "
            "up to the score difference (completeness) and gives 0 to an input equal to the baseline.",
        ),
        Mistake(
            "ig_loss_not_score",
            "gradient of the loss (cross-entropy)",
            "You integrated the gradient of the loss. Integrated Gradients explains the UNNORMALIZED class "
            "score, the logit read from the model's output, as the saliency maps do: the loss has the "
            "opposite sign and depends on every other class's score through the softmax.",
        ),
        Mistake(
            "ig_softmax_not_score",
            "gradient of the softmax probability",
            "You integrated the gradient of the softmax PROBABILITY; use the unnormalized score (logit) of "
            "each image's class. The probability saturates and mixes in the other classes, so its "
            "attributions add up to a change of probability, not of the score.",
        ),
        Mistake(
            "ig_sum_not_mean",
            "gradients summed over the steps, not averaged (steps times too large)",
            _SCALE.format(
                what="`steps` times too large",
                why="In the Riemann sum each of the m points has the weight 1/m (the path has length 1), so "
                "the accumulated gradient is divided by the number of steps.",
            ),
            credit=0.5,
        ),
        Mistake(
            "ig_batch_mean",
            "scaled by 1/N: the batch mean of the scores",
            _SCALE.format(
                what="divided by N, the batch size, because you averaged the correct-class scores",
                why="Each image's gradient is that of its OWN score: summing the scores leaves it unchanged, "
                "averaging divides it by N.",
            ),
            credit=0.5,
        ),
        Mistake(
            "ig_path_from_zero",
            "path from the zero input, not from the baseline",
            "Your points lie on the line from the all-zero input to the image, not from the baseline: the "
            "path starts AT the baseline and moves toward the image by the fraction alpha of their "
            "difference (the formula in the docstring).",
        ),
        Mistake(
            "ig_baseline_ignored",
            "baseline ignored (zero baseline for the path and the factor)",
            "Your function ignores the baseline argument: the path and the final factor both use the "
            "all-zero input. Use the baseline you are given: the path starts there and the attributions are "
            "measured from it (the notebook uses the black image, the checks other colours).",
        ),
        Mistake(
            "ig_left_riemann",
            "left Riemann sum: points 0 .. (m-1)/m",
            "Your points are alpha = 0, 1/m, ..., (m-1)/m, the LEFT Riemann sum: it evaluates the baseline "
            f"and never the image. {_RULE}",
            credit=0.5,
        ),
        Mistake(
            "ig_both_endpoints",
            "m points from 0 to 1, both ends included, weights 1/m",
            "Your m points run from alpha = 0 to alpha = 1 with both ends included (as a linspace gives), "
            "each with weight 1/m: neither the right Riemann sum nor the trapezoid rule (which would halve "
            f"the two end weights). {_RULE}",
            credit=0.5,
        ),
    )

    def cases(self, params: dict[str, Any]) -> list[Call]:
        """Two distinct photos chosen by the seed and a baseline of one random colour per image in
        [-0.8, 0.8] (not black, not zero: a path from 0 or a hard-coded baseline shows)."""
        seed = params["seed"]
        chosen = np.sort(np.random.default_rng(seed).choice(photo_count(), size=IMAGES, replace=False))
        X, y = bundled_photos(chosen, IMAGE_SIZE)
        generator = torch.Generator().manual_seed(seed + 10)
        colours = torch.rand(IMAGES, 3, 1, 1, generator=generator, dtype=torch.float64) * 1.6 - 0.8
        return [Call(args=(X, y, MODEL_FLOAT64, colours.expand_as(X).clone(), STEPS))]
