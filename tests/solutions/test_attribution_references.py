"""The Attribution solution's functions, the course's references, against independent implementations.

Captum (test-only dependency, pinned in constraints.txt) computes Integrated Gradients, Grad-CAM and
SmoothGrad with the same settings, in float64 on the course model; scipy computes Spearman's rank correlation.
The functions under test are extracted from ``solutions/Attribution.ipynb`` at test time (imports and solution
cells executed here, as :func:`autograder.references.notebook_namespace` does), never copied.

Tolerances, norm-based relative error ``||a - b|| / (||a|| + ||b||)`` (``norm_rel_error``) in float64:

* Grad-CAM and the vanilla gradient: 1e-10 (the same arithmetic: measured 0 at bn2, blocks.4 and blocks.2);
* Integrated Gradients: 1e-6. Captum's path points ``alpha_k`` come from a float32 ``torch.linspace``: exact
  for 4, 16 or 64 steps (measured 0 to 1.3e-16), rounded otherwise (measured 2.2e-8 at 7 steps, 1.1e-8 at 50);
* SmoothGrad: 1e-10, with Captum's noise replaced by the course's own draws (same generator, same order);
* Spearman: 1e-12 absolute against ``scipy.stats.spearmanr``, ties included (measured <= 5.6e-17).
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from autograder.checks.compare import norm_rel_error
from course_utils.image import pixel_bounds, preprocess
from course_utils.saliency import smoothgrad
from tests.helpers.attribution import attribution_namespace, hook_count

captum_attr = pytest.importorskip("captum.attr", reason="captum is a test dependency: pip install -e .[dev]")

#: Largest norm-based relative error accepted against Captum (float64), per function.
TOLERANCES = {
    "compute_saliency_maps": 1e-10,
    "integrated_gradients": 1e-6,
    "grad_cam": 1e-10,
    "smoothgrad": 1e-10,
}
#: Bundled photos (indices into load_imagenet_samples), side and IG steps: small, so the suite stays fast.
PHOTOS = [0, 17]
SIZE = 96
STEPS = 16


@lru_cache(maxsize=1)
def attribution_solution() -> dict[str, Any]:
    """Globals after executing the Attribution solution notebook's imports and solution cells here."""
    return attribution_namespace()


@pytest.fixture(scope="module")
def model64(model) -> torch.nn.Module:
    """A float64 copy of the course model (the checks' gradient arithmetic)."""
    return copy.deepcopy(model).double()


@pytest.fixture(scope="module")
def photos(samples) -> tuple[torch.Tensor, torch.Tensor]:
    """Two bundled photos at 96 px, float64, with their labels."""
    X, y, _ = samples
    return preprocess(X[PHOTOS], size=SIZE).double(), torch.as_tensor(y[PHOTOS])


def _black(X: torch.Tensor) -> torch.Tensor:
    low, _ = pixel_bounds(X.device, X.dtype)
    return low.expand_as(X).clone()


@pytest.mark.slow
@pytest.mark.parametrize("steps", [STEPS, 7])
def test_integrated_gradients_agrees_with_captum(model64, photos, steps: int) -> None:
    """Does the solution's IG equal Captum's IntegratedGradients(method="riemann_right") in float64?"""
    X, y = photos
    baseline = _black(X)
    ours = attribution_solution()["integrated_gradients"](X.clone(), y, model64, baseline, steps)
    theirs = captum_attr.IntegratedGradients(model64).attribute(
        X.clone(), baselines=baseline, target=y, n_steps=steps, method="riemann_right"
    )
    assert ours.dtype == torch.float64 and ours.shape == X.shape
    error = norm_rel_error(ours, theirs)
    assert error < TOLERANCES["integrated_gradients"], f"rel_error {error:.1e}"


@pytest.mark.slow
def test_integrated_gradients_is_complete_in_the_limit(model64, photos) -> None:
    """Does the sum of the attributions approach s_y(x) - s_y(baseline) as the steps grow?"""
    X, y = photos
    baseline = _black(X)
    integrated_gradients = attribution_solution()["integrated_gradients"]
    with torch.no_grad():
        gap = (model64(X) - model64(baseline)).gather(1, y.view(-1, 1)).squeeze(1)
    errors = []
    for steps in (4, 64):
        total = integrated_gradients(X.clone(), y, model64, baseline, steps).sum(dim=(1, 2, 3))
        errors.append(((total - gap).abs() / gap.abs()).max().item())
    assert errors[1] < errors[0] / 4, errors
    assert errors[1] < 0.05, errors


def test_integrated_gradients_is_exactly_complete_for_a_linear_model() -> None:
    """For a linear model the gradient is the same on the whole path: is the sum exact with one step,
    a baseline of each image's own, in float32, without touching X?"""
    torch.manual_seed(0)
    linear = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, 5)).requires_grad_(False)
    X, baseline = torch.randn(3, 3, 4, 4), torch.randn(3, 3, 4, 4)
    y = torch.tensor([0, 3, 4])
    before = X.clone()
    attributions = attribution_solution()["integrated_gradients"](X, y, linear, baseline, 1)
    gap = (linear(X) - linear(baseline)).gather(1, y.view(-1, 1)).squeeze(1)
    torch.testing.assert_close(attributions.sum(dim=(1, 2, 3)), gap)
    assert attributions.dtype == torch.float32 and torch.equal(X, before) and not X.requires_grad


@pytest.mark.slow
@pytest.mark.parametrize("layer", ["bn2", "blocks.4"])
def test_grad_cam_agrees_with_captum(model64, photos, layer: str) -> None:
    """Does the solution's Grad-CAM equal Captum's LayerGradCam(relu_attributions=True), upsampled with
    LayerAttribution.interpolate(bilinear), in float64; and does it leave no hook on the model?"""
    X, y = photos
    ours = attribution_solution()["grad_cam"](X.clone(), y, model64, layer)
    module = model64.get_submodule(layer)
    cam = captum_attr.LayerGradCam(model64, module).attribute(X.clone(), target=y, relu_attributions=True)
    theirs = captum_attr.LayerAttribution.interpolate(cam, X.shape[2:], interpolate_mode="bilinear")[:, 0]
    assert ours.shape == (2, SIZE, SIZE) and ours.dtype == torch.float64
    assert (ours > 0).any() and (ours >= 0).all()
    error = norm_rel_error(ours, theirs)
    assert error < TOLERANCES["grad_cam"], f"rel_error {error:.1e}"
    assert hook_count(model64) == 0


@pytest.mark.slow
def test_vanilla_gradient_agrees_with_captum_saliency(model64, photos) -> None:
    """Is the pasted compute_saliency_maps Captum's Saliency(abs=True) reduced by a max over channels?"""
    X, y = photos
    ours = attribution_solution()["compute_saliency_maps"](X.clone(), y, model64)
    theirs = (
        captum_attr.Saliency(model64).attribute(X.clone().requires_grad_(), target=y, abs=True).amax(dim=1)
    )
    assert norm_rel_error(ours, theirs) < TOLERANCES["compute_saliency_maps"]


@pytest.mark.slow
def test_smoothgrad_agrees_with_captum_noise_tunnel(model64, photos, monkeypatch) -> None:
    """With the same noise draws, does course_utils' smoothgrad average like Captum's NoiseTunnel
    (nt_type="smoothgrad", stdevs = sigma * input range)?"""
    X, y = photos
    n, sigma, seed = 4, 0.15, 3
    low, high = pixel_bounds(X.device, X.dtype)
    stdev = float(sigma * (high - low).flatten()[0])  # the same for the three channels here

    def course_noise(inputs: torch.Tensor, stdev: float, samples: int) -> torch.Tensor:
        # smoothgrad's draws: sample k is randn(X.shape) from one seeded generator; Captum orders the
        # noisy copies image-major (repeat_interleave), so sample k of image i goes to row i * samples + k
        generator = torch.Generator().manual_seed(seed)
        draws = [torch.randn(inputs.shape, generator=generator, dtype=inputs.dtype) for _ in range(samples)]
        noise = torch.stack(draws, dim=1).reshape(-1, *inputs.shape[1:])
        return inputs.repeat_interleave(samples, dim=0) + stdev * noise

    monkeypatch.setattr(captum_attr.NoiseTunnel, "_add_noise_to_input", staticmethod(course_noise))
    tunnel = captum_attr.NoiseTunnel(captum_attr.Saliency(model64))
    theirs = tunnel.attribute(X.clone(), nt_type="smoothgrad", nt_samples=n, stdevs=stdev, target=y, abs=True)

    def captum_saliency(X_: torch.Tensor, y_: torch.Tensor, model_: torch.nn.Module) -> torch.Tensor:
        return captum_attr.Saliency(model_).attribute(X_.requires_grad_(), target=y_, abs=True)

    ours = smoothgrad(captum_saliency, X, y, model64, n_samples=n, sigma=sigma, seed=seed)
    assert norm_rel_error(ours, theirs) < TOLERANCES["smoothgrad"]
    # and the notebook's SmoothGrad (the max over channels of each sample's map) differs from Captum's
    # per-channel average only by where the max is taken: it is never below the max of the average
    notebook = smoothgrad(attribution_solution()["compute_saliency_maps"], X, y, model64, n, sigma, seed)
    assert (notebook >= theirs.amax(dim=1) - 1e-12).all()


def _tied_maps(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pairs of (4, 12, 12) float64 maps with many ties: rectified (half zeros) and coarsely rounded."""
    generator = torch.Generator().manual_seed(seed)
    a = torch.randn(4, 12, 12, generator=generator, dtype=torch.float64)
    b = 0.6 * a + 0.8 * torch.randn(4, 12, 12, generator=generator, dtype=torch.float64)
    b[1] = -b[1]  # one anti-correlated pair
    return torch.relu(a).mul(4).round(), torch.relu(b).mul(4).round()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rank_correlation_agrees_with_scipy_including_ties(seed: int) -> None:
    """Does rank_correlation equal scipy.stats.spearmanr pair by pair, on maps with many tied values?"""
    a, b = _tied_maps(seed)
    ours = attribution_solution()["rank_correlation"](a, b)
    theirs = [spearmanr(x.flatten(), z.flatten()).statistic for x, z in zip(a, b, strict=True)]
    assert ours.shape == (4,) and ours.dtype == torch.float64
    np.testing.assert_allclose(ours.numpy(), theirs, rtol=0, atol=1e-12)
    assert (a == 0).double().mean() > 0.4, "the inputs must have many ties"


def test_rank_correlation_of_a_constant_map_is_nan_as_in_scipy() -> None:
    """A constant map has no ranking: NaN for that pair, the others unaffected?"""
    a, b = _tied_maps(0)
    a[2] = 0.0
    ours = attribution_solution()["rank_correlation"](a, b)
    assert torch.isnan(ours[2]) and torch.isfinite(ours[[0, 1, 3]]).all()


def test_rank_correlation_ignores_increasing_transformations() -> None:
    """Is rho unchanged when a map is replaced by an increasing function of itself, and -1 for a reversal?"""
    a, b = _tied_maps(1)
    rank_correlation = attribution_solution()["rank_correlation"]
    torch.testing.assert_close(rank_correlation(a.exp(), b), rank_correlation(a, b))
    torch.testing.assert_close(rank_correlation(a, -a), -torch.ones(4, dtype=torch.float64))
