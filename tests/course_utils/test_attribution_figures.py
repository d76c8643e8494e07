"""Tests for course_utils.attribution_figures: shapes, given axes, readable scaling, clear errors."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from course_utils.attribution import DeletionCurves
from course_utils.attribution_figures import (
    _scaled,
    plot_convergence,
    plot_deletion_curves,
    plot_path_scores,
    plot_randomization,
    show_attributions,
    show_randomization_maps,
)
from course_utils.attribution_sanity import RandomizationResult


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _result() -> RandomizationResult:
    stages = ("trained", "classifier", "head")
    rng = np.random.default_rng(0)
    methods = ("gradient", "Grad-CAM", "edge detector")
    return RandomizationResult(
        stages=stages,
        correlations={m: np.vstack([np.ones(2), rng.uniform(-1, 1, (2, 2))]) for m in methods},
        maps={m: rng.uniform(0, 1, (3, 6, 6)).astype(np.float32) for m in methods},
        edge_correlations={m: rng.uniform(-1, 1, (3, 2)) for m in methods},
    )


def test_scaled_maps_the_percentile_to_white_and_clips_outliers():
    """Is the 99th percentile shown at 1, a single outlier clipped, a zero map left black?"""
    one_map = np.ones((40, 40))  # one outlier in 1600 values: above the 99th percentile
    one_map[0, 0] = 1000.0
    scaled = _scaled(one_map, 99.0)
    assert scaled.max() == 1.0 and scaled[5, 5] == pytest.approx(1.0)
    assert np.all(_scaled(np.zeros((3, 3)), 99.0) == 0)
    sparse = np.zeros((10, 10))
    sparse[0, 0] = 2.0  # the 99th percentile is 0 here: scale to the maximum instead
    assert _scaled(sparse, 99.0)[0, 0] == 1.0


def test_show_attributions_makes_one_row_per_image_and_one_column_per_method():
    """Image column plus one per method, method names as column titles, tensors and arrays accepted?"""
    images = np.zeros((2, 8, 8, 3), dtype=np.uint8)
    maps = {"gradient": torch.rand(2, 8, 8), "Grad-CAM": np.random.rand(2, 8, 8)}
    fig, axes = show_attributions(images, maps, titles=["a", "b"])
    assert axes.shape == (2, 3)
    assert [ax.get_title() for ax in axes[0]] == ["a", "gradient", "Grad-CAM"]
    assert fig.get_size_inches()[0] <= 10.0 + 1e-9


def test_show_attributions_draws_into_given_axes():
    """With axes given, does it draw there and return their figure?"""
    fig, given = plt.subplots(1, 2)
    out_fig, axes = show_attributions(np.zeros((1, 4, 4, 3), np.uint8), {"m": np.ones((1, 4, 4))}, axes=given)
    assert out_fig is fig and axes[0, 1] is given[1]
    assert len(given[1].images) == 1


def test_show_attributions_names_a_map_of_the_wrong_shape():
    """Does a (N, 3, H, W) attribution (not reduced to a map) raise a ValueError naming the method?"""
    with pytest.raises(ValueError, match="'IG' maps have shape"):
        show_attributions(np.zeros((1, 4, 4, 3), np.uint8), {"IG": np.ones((1, 3, 4, 4))})


def test_show_randomization_maps_selects_stages_and_methods():
    """Rows are methods, columns the chosen stages, in the order asked for?"""
    _, axes = show_randomization_maps(_result(), stages=("trained", "head"), methods=("Grad-CAM",))
    assert axes.shape == (1, 2)
    assert [ax.get_title() for ax in axes[0]] == ["trained", "head"]
    assert axes[0, 0].get_ylabel() == "Grad-CAM"
    with pytest.raises(KeyError, match=r"blocks\.9"):
        show_randomization_maps(_result(), stages=("blocks.9",))


def test_plot_randomization_draws_one_line_per_method_over_the_stages():
    """One line per method with the stages as x tick labels, the control dashed; into given axes too?"""
    fig, ax = plt.subplots()
    out_fig, out_ax = plot_randomization(_result(), ax=ax)
    assert out_fig is fig and out_ax is ax
    assert ax.get_legend() is not None
    lines = [line for line in ax.get_lines() if line.get_label() in _result().correlations]
    assert [line.get_label() for line in lines] == ["gradient", "Grad-CAM", "edge detector"]
    assert lines[-1].get_linestyle() == "--"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["trained", "classifier", "head"]
    _, ax2 = plot_randomization(_result(), versus_edges=True, legend=False)
    assert "edge" in ax2.get_ylabel() and ax2.get_legend() is None


def test_plot_deletion_curves_gives_the_area_in_the_legend():
    """Does each legend entry carry the method's mean area under its curve?"""
    curves = DeletionCurves(
        fractions=np.linspace(0, 1, 3),
        probabilities={"good": np.array([[1.0, 0.0, 0.0]]), "random order": np.array([[1.0, 1.0, 0.0]])},
    )
    _, ax = plot_deletion_curves(curves)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["good (area 0.250)", "random order (area 0.750)"]
    assert ax.get_xticklabels()[1].get_text() == "1%"


def test_plot_convergence_uses_log_axes_with_the_step_counts_as_ticks():
    """Log-log axes, ticks at the step counts?"""
    _, ax = plot_convergence([4, 8, 16], {"a": [0.1, 0.05, 0.025]})
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["4", "8", "16"]


def test_plot_path_scores_marks_the_riemann_points():
    """One curve per image and, with steps, one dot per point k / steps at the curve's height?"""
    alphas = np.linspace(0, 1, 5)
    scores = np.vstack([alphas * 4, 1 - alphas])
    _, ax = plot_path_scores(alphas, scores, ["a", "b"], steps=2)
    lines = ax.get_lines()
    assert len(lines) == 4
    np.testing.assert_allclose(lines[1].get_xydata(), [[0.5, 2.0], [1.0, 4.0]])
