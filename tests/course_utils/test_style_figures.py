"""Tests for course_utils.style_figures: the Style Transfer notebook's figures (no network needed)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from course_utils.style_figures import show_parameterizations, show_style_transfer_result
from course_utils.style_transfer import StyleTransferResult


def fake_result(steps: int = 20) -> StyleTransferResult:
    image = torch.zeros(1, 3, 24, 32)
    content = [1e-6] + [100.0 + t for t in range(1, steps)]  # near 0 at step 1, as from the content image
    style = [1e4 / (t + 1) for t in range(steps)]
    history = {"content": content, "style": style, "tv": [0.0] * steps}
    history["total"] = [c + s for c, s in zip(content, style, strict=True)]
    return StyleTransferResult(
        image=image,
        content=image,
        style=torch.zeros(1, 3, 30, 30),
        history=history,
        snapshots=[(5, image), (10, image)],
    )


def test_result_figure_has_every_panel_and_a_readable_loss_range():
    """Are result, content, style, two snapshots and the losses shown, the y-range set by steps 2 on?"""
    fig, axes = show_style_transfer_result(fake_result(), "demo")
    try:
        assert len(axes) == 6
        assert axes[0].get_title() == "demo, step 20"
        assert [ax.get_title() for ax in axes[1:5]] == ["content", "style", "step 5", "step 10"]
        losses = axes[-1]
        assert [t.get_text() for t in losses.get_legend().get_texts()] == ["content", "style", "total"]
        low, high = losses.get_ylim()
        assert 10.0 < low < 100.0  # the 1e-6 of step 1 does not stretch the axis over 8 decades
        assert high > 1e4
    finally:
        plt.close(fig)


def test_parameterization_figure_shows_crops_and_rejects_bad_input():
    """Two images, their enlarged crops below; a crop that does not fit is a clear error."""
    images = [torch.zeros(1, 3, 48, 64), torch.ones(1, 3, 48, 64) * 0.5]
    fig, axes = show_parameterizations(images, ["a", "b"], crop=(4, 8, 32))
    try:
        assert axes.shape == (2, 2)
        assert np.asarray(axes[1, 0].get_images()[0].get_array()).shape[:2] == (32, 32)
    finally:
        plt.close(fig)
    with pytest.raises(ValueError, match="does not fit"):
        show_parameterizations(images, ["a", "b"], crop=(40, 8, 32))
    with pytest.raises(ValueError, match="one title per image"):
        show_parameterizations(images, ["a"])
