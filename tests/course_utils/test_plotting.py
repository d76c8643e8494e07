"""Tests for the figure helpers: each renders headless (Agg) and returns (Figure, axes)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from course_utils.plotting import (
    MAX_WIDTH,
    plot_curves,
    show_class_visualization,
    show_fooling,
    show_images,
    show_saliency,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _render(fig: Figure, tmp_path, check_width: bool = True) -> None:
    path = tmp_path / "figure.png"
    fig.savefig(path)
    assert path.stat().st_size > 1000
    if check_width:
        assert fig.get_size_inches()[0] <= MAX_WIDTH + 1e-6


def _images(n: int, size: int = 16) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_show_images_grid(tmp_path):
    """Does show_images lay out 5 images in rows of 3 and render to PNG?"""
    fig, axes = show_images(_images(5), titles=list("abcde"), ncols=3)
    assert axes.shape == (2, 3)
    _render(fig, tmp_path)


def test_show_saliency_has_images_over_maps(tmp_path):
    """Does show_saliency give a (2, N) axes grid with images on top and maps below?"""
    maps = torch.rand(6, 16, 16)
    fig, axes = show_saliency(torch.randn(6, 3, 16, 16), maps, titles=[f"c{i}" for i in range(6)])
    assert axes.shape == (2, 6)
    assert axes[0, 2].get_title() == "c2"
    _render(fig, tmp_path)


def test_show_saliency_rejects_wrong_map_count():
    """Is a mismatch between images and saliency maps reported with the expected shape?"""
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        show_saliency(_images(3), np.zeros((2, 16, 16)))


def test_show_fooling_four_panels(tmp_path):
    """Does show_fooling draw original, fooled, the difference at true scale and magnified?"""
    x = torch.zeros(1, 3, 16, 16)
    fig, axes = show_fooling(x, x + 0.01, "hay (p=0.90)", "stingray (p=0.51)")
    assert axes.shape == (1, 4)
    assert axes[0, 1].get_title() == "stingray (p=0.51)"
    assert "true scale" in axes[0, 2].get_title()
    _render(fig, tmp_path)


def test_show_fooling_true_scale_panel_is_near_grey_and_magnified_one_is_not():
    """Is a change of a few grey levels near-grey at true scale and stretched by the gain in the title?"""
    x = torch.zeros(1, 3, 16, 16)
    delta = torch.zeros_like(x)
    delta[..., :8, :] = 4 / 127.5  # +4 grey levels on the top half (STD 0.5: 1 unit = 127.5 levels)
    _, axes = show_fooling(x, x + delta, "a", "b")
    true_scale = axes[0, 2].get_images()[0].get_array()
    magnified = axes[0, 3].get_images()[0].get_array()
    assert np.abs(true_scale - 0.5).max() < 5 / 255  # invisible: within 5 grey levels of mid-grey
    gain = float(axes[0, 3].get_title().split("x")[-1])
    assert gain == 20  # the largest of 1, 2, 5, 10, 20, 50 with gain * 4 <= 127.5
    np.testing.assert_allclose(magnified[0, 0], 0.5 + gain * 4 / 255, atol=1e-3)
    fixed = show_fooling(x, x + delta, "a", "b", gain=5)[1]
    assert fixed[0, 3].get_title() == "difference x5"


def test_show_saliency_several_rows_of_maps(tmp_path):
    """Does a mapping of maps give one labelled row per kind under the images (raw and SmoothGrad)?"""
    maps = {"saliency": torch.rand(3, 16, 16), "SmoothGrad": np.random.rand(3, 16, 16)}
    fig, axes = show_saliency(_images(3), maps, titles=["a", "b", "c"])
    assert axes.shape == (3, 3)
    labels = [t.get_text() for ax in axes[:, 0] for t in ax.texts]
    assert labels == ["image", "saliency", "SmoothGrad"]
    _render(fig, tmp_path)


@pytest.mark.parametrize("should_rescale", [False, True])
def test_show_class_visualization_gallery(tmp_path, should_rescale):
    """Does show_class_visualization show tensors in rows of ncols with one title each?"""
    pics = [torch.randn(1, 3, 16, 16) for _ in range(4)]
    fig, axes = show_class_visualization(
        pics, [f"class {i}" for i in range(4)], suptitle="gallery", ncols=2, should_rescale=should_rescale
    )
    assert axes.shape == (2, 2)
    _render(fig, tmp_path)


def test_show_class_visualization_needs_one_title_per_image():
    """Is a missing title reported instead of silently dropping an image?"""
    with pytest.raises(ValueError, match="one title per image"):
        show_class_visualization([torch.zeros(1, 3, 8, 8)] * 2, ["only one"])


def test_plot_curves_into_given_axes(tmp_path):
    """Does plot_curves draw into an existing axes and return its figure?"""
    fig, ax = plt.subplots()
    out_fig, out_ax = plot_curves({"p": [0.1, 0.5, 0.9], "q": [0.9, 0.5, 0.1]}, ax=ax, logy=True)
    assert out_fig is fig and out_ax is ax
    assert len(ax.get_lines()) == 2
    _render(fig, tmp_path)
