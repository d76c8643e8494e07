"""Every threshold the checks use, in one place.

Relative errors are CS231n's ``rel_error``: ``max |x - y| / max(1e-8, |x| + |y|)`` over elements.
"""

from __future__ import annotations

__all__ = ["FOOLING_MAX_L2", "FOOLING_MAX_STEPS", "NORM_BASED", "REL_ERROR"]

#: Largest relative error accepted per function.
REL_ERROR: dict[str, float] = {
    # CS231n's thresholds for the style-transfer losses.
    "content_loss": 1e-3,
    "gram_matrix": 1e-3,
    "style_loss": 1e-3,
    "tv_loss": 1e-4,
    # Gradients through the whole network in float32, compared with the NORM-based relative error
    # (see NORM_BASED). Measured on the CPU (torch 2.14.1), 2 images at 160 px: gather, indexing
    # with arange and a one-hot product give bit-identical maps; a loop over the images (batch of 1)
    # or 1 instead of 2 intra-op threads differ by 7.6e-7 (norm-based) but by 2.0e-5 elementwise,
    # the elementwise figure set by near-zero gradient entries. The closest classic mistake (mean
    # or sum over channels) is 0.50 away, the others 0.65 to 8. 1e-4 is 100x the noise and 5000x
    # below the closest mistake (test_checks.py::test_correct_variants_agree re-measures it).
    "compute_saliency_maps": 1e-4,
    # Compared on the step (image after minus image before), not on the image, so that the image
    # itself cannot hide a wrong step. Normalized steps: same noise argument as for saliency.
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
