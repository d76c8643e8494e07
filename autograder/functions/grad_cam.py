"""``grad_cam`` (Attribution): class-discriminative maps from a named layer, with hooks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from autograder.checks.base import FunctionReference, GradedFunction, GradingContext, Mistake, Verdict
from autograder.checks.compare import Tolerance
from autograder.checks.inputs import bundled_photos, photo_count
from autograder.functions import register
from autograder.runner import MODEL_FLOAT64, Call, CallOutcome

#: Side of the check images (px) and their number.
IMAGE_SIZE, IMAGES = 96, 2
#: The public check's layer, and those a hidden check may ask for; never "bn2", the notebook's default and
#: the layer a function that ignores ``layer`` would use.
PUBLIC_LAYER, LAYERS = "blocks.4", ("blocks.3", "blocks.4", "blocks.5")

_RESAMPLING = "Credit: a display convention; the map itself is right."


@register
class GradCam(GradedFunction):
    """Two photos at 96 px (float64), their labels, a layer named by the seed; hooks left are counted."""

    name = "grad_cam"
    notebook = "Attribution"
    order = 2
    stub_returns = "cam"
    points = 4.0
    tolerance = Tolerance(
        1e-4,
        "norm",
        why="Float64, as for saliency: 1 vs 2 threads and one image at a time agree within 5.1e-16 (seeds "
        "0-3, bench/bench_attribution_checks.py). The closest mistakes are the map divided by its maximum "
        "(0.03 on one seed, 0.2 otherwise) and bilinear with align_corners=True (0.13).",
    )
    hint = (
        "Checked: your maps for 2 bundled photos (96 px, their labels) at the layer named in the check, "
        "against the reference of shape (N, H, W) (accepted when the norm-based rel_error is below "
        "{threshold}). Re-read 'Grad-CAM': the channel weights are the spatial MEAN of the gradient of the "
        "unnormalized class score with respect to the layer's output; the map is the ReLU of the weighted "
        "channel sum, upsampled bilinearly to the image size with align_corners=False; not normalized."
    )
    mistakes = (
        Mistake(
            "gradcam_no_relu",
            "no ReLU: negative evidence kept",
            "Apply the ReLU to the weighted sum of the channels: Grad-CAM keeps only the positions whose "
            "features RAISE the class score, and your map still holds negative values.",
        ),
        Mistake(
            "gradcam_relu_per_channel",
            "ReLU on each weighted channel before the sum",
            "The ReLU comes after the weighted channels are summed. Rectifying each channel first keeps the "
            "positive part of every channel, including those with a negative weight, and loses the "
            "cancellations between channels.",
        ),
        Mistake(
            "gradcam_sum_over_space",
            "channel weights summed over the positions, not averaged (h*w times too large)",
            "Right map, wrong scale: your channel weights are the SUM of the gradients over the h x w "
            "positions; Grad-CAM averages them (alpha_k is a mean), so your maps are h * w times too large "
            "and their size depends on the layer's resolution.",
            credit=0.5,
        ),
        Mistake(
            "gradcam_normalized",
            "map divided by its maximum inside the function",
            "Your maps are divided by their maximum. Return them unnormalized, as the docstring says: the "
            "figures scale each map themselves, and values stay comparable between images, classes and "
            "layers only without it.",
            credit=0.5,
        ),
        Mistake(
            "gradcam_wrong_layer",
            "the layer argument ignored (Grad-CAM at the last layer)",
            "Your map is Grad-CAM at the last layer whatever layer was asked for. Hook the module whose NAME "
            "is given in `layer` (the docstring says which method of the model finds it).",
        ),
        Mistake(
            "gradcam_getattr_dotted_name",
            "getattr with a dotted layer name",
            "getattr looks up ONE attribute, and a name like 'blocks.4' is a path (entry 4 of model.blocks). "
            "The model's get_submodule method follows dotted names.",
            detect="error",
            error_text=("has no attribute 'blocks.",),
        ),
        Mistake(
            "gradcam_hooks_left",
            "hooks left registered on the model",
            "Right map, but hooks were left registered on the model: they run again on every later pass (and "
            "keep what they store alive), and each call adds more. Keep the handles that the register "
            "methods return and call their remove() method before returning, in a `finally:` block so that "
            "it also happens after an error.",
            credit=0.5,
            detect="judge",
            evidence="hooks left on the model after the call",
        ),
        Mistake(
            "gradcam_loss_not_score",
            "gradient of the loss (cross-entropy)",
            "You back-propagated the loss; Grad-CAM's weights are gradients of the UNNORMALIZED class score "
            "(the logit), as for the saliency maps.",
        ),
        Mistake(
            "gradcam_not_upsampled",
            "the layer's (h, w) map, not upsampled",
            "Your map has the layer's resolution; upsample it to the input's height and width with "
            "F.interpolate, bilinear with align_corners=False: the function returns one value per pixel of "
            "the image.",
        ),
        Mistake(
            "gradcam_nearest",
            "nearest-neighbour upsampling",
            "Right map, other resampling: upsample bilinearly with align_corners=False as the docstring and "
            f"Captum do, not with the nearest neighbour. {_RESAMPLING}",
            credit=0.5,
        ),
        Mistake(
            "gradcam_align_corners",
            "bilinear with align_corners=True",
            "Right map, other resampling grid: use align_corners=False as F.interpolate's default for "
            "bilinear and Captum do; it treats pixels as areas, so that the upsampled map lines up with the "
            f"image. {_RESAMPLING}",
            credit=0.5,
        ),
    )

    def cases(self, params: dict[str, Any]) -> list[Call]:
        """Two photos other than integrated_gradients' (seed + 20), their labels, and a layer: blocks.4 for
        the public seed, one of blocks.3-5 by seed otherwise. The model's hooks are counted after the call."""
        seed = params["seed"]
        chosen = np.sort(np.random.default_rng(seed + 20).choice(photo_count(), size=IMAGES, replace=False))
        X, y = bundled_photos(chosen, IMAGE_SIZE)
        layer = PUBLIC_LAYER if seed == 0 else LAYERS[seed % len(LAYERS)]
        return [Call(args=(X, y, MODEL_FLOAT64, layer), capture_args=(2,))]

    def judge(self, outcomes: Sequence[CallOutcome], ref: FunctionReference, ctx: GradingContext) -> Verdict:
        """The maps compared as usual; right maps with hooks left on the model earn half."""
        verdict = super().judge(outcomes, ref, ctx)
        hooks = outcomes[0].args.get(2, {}).get("hooks")
        if verdict.status == "passed" and isinstance(hooks, int) and hooks > 0:
            return self.named(
                "gradcam_hooks_left",
                f"{verdict.message}, but {hooks} hook(s) were left registered on the model",
                verdict.rel_error,
                verdict.threshold,
            )
        return verdict
