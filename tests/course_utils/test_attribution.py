"""Tests for course_utils.attribution: the edge control, attribution maps, path scores, deletion curves."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from course_utils.attribution import attribution_map, deletion_curves, path_scores, sobel_edges


def test_sobel_edges_finds_a_vertical_edge_only_where_it_is():
    """For a step from -1 to 1 between columns 3 and 4, is the edge map zero except at those columns?"""
    X = -torch.ones(2, 3, 8, 8, dtype=torch.float64)
    X[..., 4:] = 1.0
    edges = sobel_edges(X)
    assert edges.shape == (2, 8, 8) and edges.dtype == torch.float64
    assert torch.all(edges[..., [0, 1, 2, 5, 6, 7]] == 0)
    torch.testing.assert_close(edges[..., 3], torch.full((2, 8), 8.0, dtype=torch.float64))
    assert torch.all(sobel_edges(torch.zeros(1, 3, 5, 5)) == 0)


def test_attribution_map_sums_channels_then_takes_the_absolute_value():
    """Is the map the channel sum (signed, or its absolute value), detached?"""
    a = torch.tensor([1.0, -3.0, 1.0]).view(1, 3, 1, 1).requires_grad_()
    assert attribution_map(a).item() == 1.0
    assert attribution_map(a, absolute=False).item() == -1.0
    assert not attribution_map(a).requires_grad


class RegionScorer(nn.Module):
    """Two classes; class 0's score is 10 x the mean of channel 0 over the top-left 4 x 4 pixels."""

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        region = X[:, 0, :4, :4].mean(dim=(1, 2))
        return torch.stack([10 * region, torch.zeros_like(region)], dim=1)


def test_deletion_curves_reward_the_map_that_points_at_what_the_model_uses():
    """Does deleting the region the model reads first make the probability fall sooner than a random order?"""
    X = torch.ones(2, 3, 8, 8)
    y = torch.tensor([0, 0])
    right = torch.zeros(2, 8, 8)
    right[:, :4, :4] = 1.0
    wrong = 1.0 - right
    shares = (0, 0.25, 0.5, 0.75, 1.0)
    curves = deletion_curves(
        {"right": right, "wrong": wrong}, X, y, RegionScorer(), fill=0.0, fractions=shares
    )
    np.testing.assert_allclose(curves.fractions, [0, 0.25, 0.5, 0.75, 1.0])
    full = 1 / (1 + math.exp(-10))
    # 16 of 64 pixels are the region: deleting the top quarter of "right" removes all of it
    np.testing.assert_allclose(curves.probabilities["right"][0], [full, 0.5, 0.5, 0.5, 0.5], rtol=1e-6)
    np.testing.assert_allclose(curves.probabilities["wrong"][0], [full, full, full, full, 0.5], rtol=1e-6)
    assert curves.area("right").mean() < curves.area("random order").mean() < curves.area("wrong").mean()
    assert curves.mean("right").shape == (5,)


def test_deletion_curves_delete_exact_shares_and_break_ties_by_pixel_order():
    """Constant map: are the first k of 4 pixels (row-major) deleted at share k/4, all channels at once?"""
    X = torch.ones(1, 3, 2, 2)
    seen = []

    class Spy(nn.Module):
        def forward(self, images):
            seen.append(images.clone())
            return torch.zeros(len(images), 2)

    shares = (0, 0.25, 0.5, 0.75, 1.0)
    deletion_curves(
        {"flat": torch.zeros(1, 2, 2)}, X, torch.tensor([0]), Spy(), fractions=shares, random_label=None
    )
    images = torch.cat(seen)
    assert images.shape == (5, 3, 2, 2)
    kept = (images != 0).all(dim=1).flatten(1)  # (steps + 1, 4) pixel kept
    expected = torch.tensor([[1, 1, 1, 1], [0, 1, 1, 1], [0, 0, 1, 1], [0, 0, 0, 1], [0, 0, 0, 0]]).bool()
    assert torch.equal(kept, expected)


def test_deletion_curves_refuse_maps_of_the_wrong_shape():
    """Does a (N, 3, H, W) map raise a ValueError naming the shape deletion needs?"""
    X = torch.ones(1, 3, 4, 4)
    with pytest.raises(ValueError, match=r"\(1, 4, 4\)"):
        deletion_curves({"ig": torch.ones(1, 3, 4, 4)}, X, torch.tensor([0]), RegionScorer())
    for shares in ((0.5,), (0.0, 0.5, 0.5), (0.0, 1.5)):
        with pytest.raises(ValueError, match="fractions"):
            deletion_curves({}, X, torch.tensor([0]), RegionScorer(), fractions=shares)


def test_path_scores_walk_from_the_baseline_to_the_image():
    """At alpha 0 the baseline's score, at 1 the image's, linear in between for a linear model?"""
    torch.manual_seed(0)
    linear = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 3)).requires_grad_(False)
    X, baseline, y = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4), torch.tensor([2, 0])
    alphas, scores = path_scores(X, y, linear, baseline, alphas=(0, 0.25, 0.5, 0.75, 1), batch_size=3)
    np.testing.assert_allclose(alphas, [0, 0.25, 0.5, 0.75, 1])
    start = linear(baseline).gather(1, y.view(-1, 1)).squeeze(1).double().numpy()
    end = linear(X).gather(1, y.view(-1, 1)).squeeze(1).double().numpy()
    expected = start[:, None] + alphas[None, :] * (end - start)[:, None]
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-5)
