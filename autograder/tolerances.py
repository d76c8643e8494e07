"""Every threshold the checks use, in one place.

Relative errors are CS231n's ``rel_error``: ``max |x - y| / max(1e-8, |x| + |y|)`` over elements.
"""

from __future__ import annotations

__all__ = [
    "CHECK_SIZE",
    "COMPACT_NUMEL",
    "FOOLING_ACCUMULATED_MATCH",
    "FOOLING_MAX_L2",
    "FOOLING_MAX_STEPS",
    "FOOLING_STOP_SLACK",
    "NORM_BASED",
    "REL_ERROR",
    "VARIANT_MATCH",
]

#: Largest relative error accepted per function.
REL_ERROR: dict[str, float] = {
    # CS231n's thresholds for the style-transfer losses.
    "content_loss": 1e-3,
    "gram_matrix": 1e-3,
    "style_loss": 1e-3,
    "tv_loss": 1e-4,
    # Gradients through the whole network, computed in FLOAT64 (inputs and a float64 copy of the
    # model, see autograder.runner.MODEL_FLOAT64) and compared with the NORM-based relative error
    # (see NORM_BASED). Why float64: of ~2M ReLU6 units at 128 px, ~7 per input sit within 1e-5 of
    # a kink (0 or 6) and float32 pre-activations are off by up to ~1.5e-6, so in float32 a unit
    # flips with the summation order (thread count, CPU, batching) for 7 of the 20 bundled photos
    # and 15 of 40 random class-visualization images, moving the correct answer by 1e-4 to 3.6e-3.
    # In float64 (torch 2.14.1, CPU) 1 vs 2 threads, channels-last and one-image-at-a-time agree to
    # within 7e-16 over 40 images and 63 photo pairs; a float32 buffer for the result adds ~6e-8.
    # The classic mistakes are 0.26 (sum over channels) to 0.99 away (norm-based). 1e-4 is far
    # above the noise and ~2500x below the closest mistake (tests/autograder/test_checks.py
    # re-measures both: test_correct_variants_agree, test_known_mistakes_are_far_from_the_answer).
    "compute_saliency_maps": 1e-4,
    # Compared on the step (image after minus image before), not on the image, so that the image
    # itself cannot hide a wrong step. Float64, same noise argument as for saliency; with l2_reg = 1e-2 the
    # closest mistake (regularizer missing) is 0.097 away, the wrong sign 0.19, unnormalized 0.84.
    "class_visualization_update_step": 1e-4,
}

#: Functions compared with ``||x - y||_2 / max(1e-8, ||x||_2 + ||y||_2)`` instead of CS231n's
#: elementwise rel_error: input gradients hold many near-zero entries whose elementwise relative
#: error is large for correct answers (float32 summation order), while the norm-based error is not.
NORM_BASED: frozenset[str] = frozenset({"compute_saliency_maps", "class_visualization_update_step"})

#: Fooling is checked by property: at most this many L2-normalized steps of learning rate 1 ...
FOOLING_MAX_STEPS = 100
#: ... so the change, in normalized units, has an L2 norm of at most this (plus float slack).
FOOLING_MAX_L2 = FOOLING_MAX_STEPS * 1.0 + 1e-3

#: Relative error under which an output is recognized as a known mistake. Mistakes differ from the
#: correct output and from each other by far more; large variants are stored in float16, whose
#: rounding adds < 1e-4.
VARIANT_MATCH = 1e-3

#: Known-mistake outputs larger than this many elements are stored in float16 in the reference files,
#: keeping them small: the images and maps of the gradient checks, matched by the NORM-based error
#: within VARIANT_MATCH, far above float16's precision. Smaller ones stay exact: an elementwise
#: rel_error on float16 fails for entries near zero (subnormal in float16), which kept the (2, 30, 30)
#: "wrong dimensions transposed" Gram matrix from ever being recognised when this was 1000.
COMPACT_NUMEL = 10_000

#: Side length, in pixels, of the NetworkVisualization check images: small enough to be fast, large
#: enough for the network. The float64 noise figures above were measured at this size.
CHECK_SIZE = 128
#: "Stop as soon as the model is fooled": the change may exceed the reference's change on the same
#: input (stored with the references) by at most this L2 norm, one extra step of learning rate 1 (a
#: loop that tests the prediction after stepping takes at most one more step, and one step adds at
#: most 1 by the triangle inequality). Measured on the check inputs of seeds 0-7 (128 px, CPU, float32,
#: torch 2.x): the reference stops after 3-11 steps with a change of 1.74-4.21, while a loop that
#: always runs 100 steps ends at 9.59-12.10, at least 6.9 above reference + slack.
FOOLING_STOP_SLACK = 1.0

#: A fooling change is recognised as that of a loop that never resets ``.grad`` (the stored variant)
#: within this norm-based relative error. Fooling runs in float32, where the trajectory depends on
#: the thread count: on the public input (seed 0) the no-reset loop's change with 1 vs 2 threads
#: differs by 0.010 (the specified loop's by 0.22), while the no-reset and the specified loop differ
#: by 0.56 (0.24-0.59 over seeds 0-7). 0.1 is 10x that noise, and a correct change, even 0.22 off
#: the reference, stays >= 0.3 away from the no-reset one.
FOOLING_ACCUMULATED_MATCH = 0.1
