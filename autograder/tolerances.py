"""Every threshold the checks use, in one place.

Relative errors are CS231n's ``rel_error``: ``max |x - y| / max(1e-8, |x| + |y|)`` over elements.
"""

from __future__ import annotations

__all__ = [
    "CHECK_SIZE",
    "COMPACT_NUMEL",
    "FOOLING_MAX_L2",
    "FOOLING_MAX_STEPS",
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

#: Known-mistake outputs larger than this many elements are stored in float16 in the reference files
#: (they are only matched within VARIANT_MATCH, far above float16's precision), keeping them small.
COMPACT_NUMEL = 1000

#: Side length, in pixels, of the NetworkVisualization check images: small enough to be fast, large
#: enough for the network. The float64 noise figures above were measured at this size.
CHECK_SIZE = 128
