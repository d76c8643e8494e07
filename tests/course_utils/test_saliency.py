"""Tests for course_utils.saliency.smoothgrad, with the solution's saliency function passed explicitly."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from course_utils.image import preprocess
from course_utils.saliency import smoothgrad


def reference_saliency(X, y, model):
    """The solution's compute_saliency_maps: max over channels of |d s_y / d X|."""
    model.eval()
    X.requires_grad_()
    scores = model(X)
    scores.gather(1, y.view(-1, 1)).squeeze(1).sum().backward()
    return X.grad.abs().max(dim=1).values


def not_implemented(X, y, model):
    """The student's function before they write it."""


@pytest.fixture
def linear_model() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 6 * 6, 5))
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def _batch(n: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    X = torch.rand(n, 3, 6, 6, generator=torch.Generator().manual_seed(0)) * 2 - 1
    return X, torch.arange(n)


def test_no_noise_and_one_sample_is_the_raw_saliency(linear_model):
    """With sigma 0 and one sample, is SmoothGrad exactly the saliency function's map?"""
    X, y = _batch()
    expected = reference_saliency(X.clone(), y, linear_model)
    torch.testing.assert_close(
        smoothgrad(reference_saliency, X, y, linear_model, n_samples=1, sigma=0.0), expected
    )


def test_linear_model_saliency_does_not_depend_on_noise(linear_model):
    """For a linear model the gradient is the same everywhere: is the average equal to the raw map?"""
    X, y = _batch()
    expected = reference_saliency(X.clone(), y, linear_model)
    smooth = smoothgrad(reference_saliency, X, y, linear_model, n_samples=5, sigma=0.3)
    torch.testing.assert_close(smooth, expected)


def test_it_averages_over_copies_with_the_stated_noise(linear_model):
    """Are n_samples calls made, each on a different copy whose noise std is sigma * (high - low)?"""
    X, y = _batch(1)
    seen = []

    def record(X_noisy, y_, model):
        seen.append(X_noisy.detach().clone())
        return X_noisy.detach().mean(dim=1)

    n, sigma = 30, 0.1
    smooth = smoothgrad(record, X, y, linear_model, n_samples=n, sigma=sigma)
    assert len(seen) == n
    noise = torch.stack(seen) - X
    assert not torch.equal(seen[0], seen[1])
    assert float(noise.std()) == pytest.approx(sigma * 2.0, rel=0.05)  # the valid range is [-1, 1]
    torch.testing.assert_close(smooth, torch.stack(seen).mean(dim=0).mean(dim=1))


def test_same_seed_same_result_and_input_untouched(linear_model):
    """Is the result reproducible from its seed, and are X, X.requires_grad and X.grad left as they were?"""
    X, y = _batch()
    X.requires_grad_(False)
    before = X.clone()
    a = smoothgrad(reference_saliency, X, y, linear_model, n_samples=3, seed=4)
    b = smoothgrad(reference_saliency, X, y, linear_model, n_samples=3, seed=4)
    assert torch.equal(a, b)
    assert torch.equal(X, before)
    assert not X.requires_grad and X.grad is None
    assert not a.requires_grad


def test_bad_arguments_are_named(linear_model):
    """Are n_samples < 1, a negative sigma and an unimplemented saliency function reported clearly?"""
    X, y = _batch()
    with pytest.raises(ValueError, match="n_samples"):
        smoothgrad(reference_saliency, X, y, linear_model, n_samples=0)
    with pytest.raises(ValueError, match="sigma"):
        smoothgrad(reference_saliency, X, y, linear_model, sigma=-0.1)
    with pytest.raises(TypeError, match="implement compute_saliency_maps"):
        smoothgrad(not_implemented, X, y, linear_model, n_samples=1)


def _neighbour_correlation(maps: torch.Tensor) -> float:
    a, b = maps[..., :, :-1].flatten(), maps[..., :, 1:].flatten()
    return float(torch.corrcoef(torch.stack([a, b]))[0, 1])


def test_smoothgrad_is_smoother_than_raw_gradients_on_the_course_model(model, samples):
    """On a real photo and the course network, are SmoothGrad's neighbouring pixels more alike?"""
    X_uint8, labels, _ = samples
    X = preprocess(X_uint8[:1], size=128)
    y = torch.as_tensor(labels[:1])
    raw = reference_saliency(X.clone(), y, model)
    smooth = smoothgrad(reference_saliency, X, y, model, n_samples=6, sigma=0.15)
    assert smooth.shape == raw.shape == (1, 128, 128)
    assert _neighbour_correlation(smooth) > _neighbour_correlation(raw) + 0.1
