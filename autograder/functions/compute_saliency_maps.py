"""``compute_saliency_maps`` (NetworkVisualization): the gradient of the correct-class score, as a map."""

from __future__ import annotations

from typing import Any

import numpy as np

from autograder.checks.base import GradedFunction, Mistake
from autograder.checks.compare import Tolerance
from autograder.checks.inputs import CHECK_SIZE, bundled_photos, photo_count
from autograder.functions import register
from autograder.runner import MODEL_FLOAT64, Call

_CHANNELS = "Take the MAX over the 3 colour channels (dim=1), not the sum or the mean."


@register
class ComputeSaliencyMaps(GradedFunction):
    """Two distinct bundled photos chosen by the seed, 128 px, their true labels, float64 model."""

    name = "compute_saliency_maps"
    notebook = "NetworkVisualization"
    order = 1
    points = 4.0
    stub_returns = "saliency"
    tolerance = Tolerance(
        1e-4,
        "norm",
        why="Computed in float64 (inputs and a float64 copy of the model): of ~2M ReLU6 units at 128 px, "
        "~7 per input sit within 1e-5 of a kink, so in float32 a unit flips with the summation order (thread "
        "count, CPU, batching) and moves a correct map by 1e-4 to 3.6e-3; in float64 1 vs 2 threads, "
        "channels-last and one image at a time agree within 7e-16. The closest mistake (sum over channels) "
        "is 0.26 away.",
    )
    hint = (
        "Checked: your maps for 2 bundled photos (128 px, their true labels) against the reference maps of "
        "shape (N, H, W), accepted when the norm-based rel_error is below {threshold}. Re-read 'Saliency "
        "maps': the map is the absolute value of the gradient of each image's UNNORMALIZED correct-class "
        "score (no softmax, no loss) with respect to its pixels, reduced over the colour channels by a "
        "maximum. Look at which value you call backward() on and how you reduce dim=1."
    )
    mistakes = (
        Mistake(
            "saliency_sum_of_scores",
            "sum of all class scores",
            "You back-propagated the sum of ALL class scores, so all 1000 classes shape the map. Select only "
            "each image's correct-class score (index the score matrix with the labels, e.g. with `gather` "
            "along the class dimension), then reduce those N values to one number.",
        ),
        Mistake(
            "saliency_loss_sum",
            "gradient of the loss (cross-entropy with reduction='sum', or the log-softmax of the correct "
            "class)",
            "You used the gradient of the loss (cross-entropy, or the log-softmax it is made of); the "
            "saliency map is the gradient of the unnormalized correct-class SCORE, read straight from the "
            "model's output. The loss also depends on every other class's score through the softmax's "
            "normalization.",
        ),
        Mistake(
            "saliency_loss_mean",
            "gradient of the loss (cross-entropy with reduction='mean')",
            "You used the gradient of the cross-entropy loss; the saliency map is the gradient of the "
            "unnormalized correct-class SCORE, read straight from the model's output (no softmax, no loss, "
            "no averaging over the batch).",
        ),
        Mistake(
            "saliency_softmax",
            "gradient of the softmax probability",
            "You used the gradient of the softmax PROBABILITY of the correct class; the saliency map is the "
            "gradient of the unnormalized SCORE (the logit before softmax). The probability's gradient is "
            "scaled by how confident the model is and mixes in the other classes.",
        ),
        Mistake(
            "saliency_batch_mean",
            "scaled by 1/N: the batch MEAN of the correct-class scores instead of their sum",
            "Right pattern, wrong scale: your maps are the correct ones divided by N, the batch size, "
            "because you averaged the correct-class scores. Each image's map is the gradient of its OWN "
            "score; summing the scores leaves every image's gradient unchanged, averaging divides it by N "
            "(the notebook's TODO says: combine across the batch by summing).",
            credit=0.5,
        ),
        Mistake(
            "saliency_no_abs",
            "no absolute value",
            "Take the absolute value of the gradient before the max over channels: a large negative gradient "
            "matters as much as a large positive one.",
        ),
        Mistake("saliency_sum_over_channels", "sum over channels", _CHANNELS),
        Mistake("saliency_mean_over_channels", "mean over channels", _CHANNELS),
    )

    def cases(self, params: dict[str, Any]) -> list[Call]:
        """Two distinct photos chosen by the seed, at 128 px, with their true labels; float64."""
        chosen = np.random.default_rng(params["seed"]).choice(photo_count(), size=2, replace=False)
        X, y = bundled_photos(np.sort(chosen), CHECK_SIZE)
        return [Call(args=(X, y, MODEL_FLOAT64))]
