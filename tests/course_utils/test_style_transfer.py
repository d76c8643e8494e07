"""Tests for course_utils.style_transfer: the driver around the student's losses, on tiny images."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image

from course_utils.image_parameterization import NOISE_START_STD, fourier_image, noise_start, pixel_image
from course_utils.models import extract_features
from course_utils.style import high_frequency_share
from course_utils.style_transfer import (
    Optimization,
    StyleLosses,
    StyleTask,
    extract_features_upto,
    style_transfer,
)


def content_loss(w, current, original):
    return w * (current - original).pow(2).sum()


def gram_matrix(features, normalize=True):
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    gram = flat @ flat.transpose(1, 2)
    return gram / (h * w * c) if normalize else gram


def style_loss(feats, layers, targets, weights):
    return sum(
        w * (gram_matrix(feats[i]) - t).pow(2).sum() for i, t, w in zip(layers, targets, weights, strict=True)
    )


def tv_loss(img, w):
    return w * (img.diff(dim=2).pow(2).sum() + img.diff(dim=3).pow(2).sum())


LOSSES = StyleLosses(content_loss, gram_matrix, style_loss, tv_loss)


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> dict[str, str]:
    """A smooth 'photo' and a striped 'painting', written as PNG files (no course data needed)."""
    folder = tmp_path_factory.mktemp("style_images")
    yy, xx = np.mgrid[0:48, 0:64]
    photo = np.stack([xx * 4, yy * 5, 255 - xx * 2], axis=-1).clip(0, 255).astype(np.uint8)
    stripes = ((np.sin(xx / 2.0 + yy / 3.0) > 0)[..., None] * np.array([230, 180, 40])).astype(np.uint8)
    paths = {}
    for name, pixels in (("photo", photo), ("painting", stripes + 10)):
        paths[name] = str(folder / f"{name}.png")
        Image.fromarray(pixels).save(paths[name])
    return paths


def tiny_task(images: dict[str, str], **changes) -> StyleTask:
    task = StyleTask(
        content_image=images["photo"],
        style_image=images["painting"],
        image_size=32,
        style_size=32,
        content_layer=2,
        content_weight=0.01,
        style_layers=[0, 1, 2],
        style_weights=[300.0, 30.0, 3.0],
        tv_weight=0.01,
    )
    return dataclasses.replace(task, **changes)


def test_extract_features_upto_matches_extract_features(model):
    """Are the truncated feature maps exactly the first ones of extract_features?"""
    x = torch.randn(1, 3, 32, 32)
    full = extract_features(x, model)
    part = extract_features_upto(x, model, 3)
    assert len(part) == 4
    for a, b in zip(part, full[:4], strict=False):
        torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="out of range"):
        extract_features_upto(x, model, 9)


@pytest.mark.parametrize("make", [fourier_image, pixel_image])
def test_parameterization_starts_at_the_initial_image(make):
    """Does each parameterization render its starting image (within one grey level) in the valid range?"""
    init = torch.rand(1, 3, 20, 27) * 2 - 1
    params, render = make(init)
    img = render().detach()
    assert img.shape == init.shape and img.dtype == init.dtype
    assert float((img - init).abs().max()) <= 2.0 / 255 + 1e-5
    assert all(p.requires_grad and p.is_leaf for p in params)


def test_fourier_steps_favour_low_frequencies():
    """Is one Adam step on white-noise gradients much smoother in Fourier space than in pixels?"""
    init = torch.zeros(1, 3, 48, 48)
    noise = torch.randn(1, 3, 48, 48, generator=torch.Generator().manual_seed(0))
    changes = []
    for make in (fourier_image, pixel_image):
        params, render = make(init)
        optimizer = torch.optim.Adam(params, lr=0.05)
        (render() * noise).sum().backward()
        optimizer.step()
        changes.append(render().detach() - init)
    fourier_share, pixel_share = (float(high_frequency_share(c)) for c in changes)
    assert pixel_share > 0.5
    assert fourier_share < 0.5 * pixel_share


def test_fourier_image_stays_in_range_after_large_steps():
    """Can no step push the Fourier-parameterized image outside the valid pixel range?"""
    params, render = fourier_image(torch.zeros(1, 3, 16, 16))
    with torch.no_grad():
        params[0].add_(torch.randn_like(params[0]) * 100)
    img = render()
    assert float(img.min()) >= -1.0 and float(img.max()) <= 1.0


@pytest.mark.parametrize("parameterization", ["fourier", "pixel"])
def test_loss_decreases_and_result_is_a_valid_image(model, images, parameterization):
    """After a few steps, is the total loss lower, and the image the content's size in [-1, 1]?"""
    opt = Optimization(num_iters=8, parameterization=parameterization, snapshot_at=(4,))
    lr = {"fourier": 0.05, "pixel": 0.05}[parameterization]
    result = style_transfer(model, LOSSES, tiny_task(images), dataclasses.replace(opt, learning_rate=lr))
    total = result.history["total"]
    assert len(total) == 8
    assert total[-1] < total[0]
    assert result.image.shape == result.content.shape == (1, 3, 32, 43)  # 48 x 64 photo, shorter side 32
    assert float(result.image.min()) >= -1.0 and float(result.image.max()) <= 1.0
    assert [step for step, _ in result.snapshots] == [4]
    assert not result.image.requires_grad


def test_the_students_losses_are_the_ones_called(model, images):
    """Are the given losses called every step (gram_matrix also for the targets), with the weights?"""
    calls: dict[str, list] = {"content_loss": [], "gram_matrix": [], "style_loss": [], "tv_loss": []}

    def spy(name, fn):
        def wrapped(*args, **kwargs):
            calls[name].append(args)
            return fn(*args, **kwargs)

        return wrapped

    losses = StyleLosses(
        *(spy(n, f) for n, f in zip(calls, (content_loss, gram_matrix, style_loss, tv_loss), strict=True))
    )
    task = tiny_task(images)
    style_transfer(model, losses, task, Optimization(num_iters=3))
    probes = 1  # StyleLosses.require() calls each function once on tiny tensors
    assert len(calls["content_loss"]) == probes + 3
    assert len(calls["style_loss"]) == probes + 3
    assert len(calls["tv_loss"]) == probes + 3
    # the driver makes the style targets with the given gram_matrix (style_loss calls its own)
    assert len(calls["gram_matrix"]) == len(task.style_layers) + probes
    assert all(args[0] == task.content_weight for args in calls["content_loss"][probes:])
    assert all(list(args[3]) == list(task.style_weights) for args in calls["style_loss"][probes:])
    assert all(args[1] == task.tv_weight for args in calls["tv_loss"][probes:])


def test_missing_loss_is_named_before_any_work(model):
    """Does an unimplemented loss stop the driver with its name, before images are even loaded?"""
    losses = dataclasses.replace(LOSSES, tv_loss=lambda img, w: None)
    task = StyleTask("no-such-photo.png", "no-such-painting.png", 32, 32, 2, 1.0, [0], [1.0], 1.0)
    with pytest.raises(NotImplementedError, match="tv_loss returned None: not implemented yet"):
        style_transfer(model, losses, task)


def test_same_seed_same_image_and_noise_start_depends_on_seed(model, images):
    """Is a run reproducible from its seed, and does the random start change with the seed?"""
    task = tiny_task(images, init_random=True, content_weight=0.0)
    opt = Optimization(num_iters=3)
    first = style_transfer(model, LOSSES, task, opt).image
    again = style_transfer(model, LOSSES, task, opt).image
    other = style_transfer(model, LOSSES, task, dataclasses.replace(opt, seed=1)).image
    torch.testing.assert_close(first, again)
    assert float((first - other).abs().max()) > 1e-3


def test_content_target_is_shifted_with_the_image(model, images):
    """Does a shifted view of the content image itself count as a perfect content match?"""
    task = tiny_task(images, content_weight=1.0, style_weights=[0.0, 0.0, 0.0], tv_weight=0.0)
    shifted = [
        style_transfer(model, LOSSES, task, Optimization(num_iters=1, max_jitter=2, seed=seed))
        for seed in range(4)
    ]
    still = style_transfer(model, LOSSES, task, Optimization(num_iters=1, max_jitter=0))
    # the first step renders the content image itself (up to the sigmoid's 1/255 margin)
    baseline = still.history["content"][0]
    content = still.content
    with torch.no_grad():
        feats = extract_features_upto(content, model, task.content_layer)[-1]
        moved = extract_features_upto(content.roll(2, dims=3), model, task.content_layer)[-1]
    misaligned = float(content_loss(1.0, moved, feats))
    assert misaligned > 100 * max(baseline, 1e-12)
    for result in shifted:
        assert result.history["content"][0] < 10 * baseline + 1e-3 * misaligned


def test_noise_start_is_faint_and_photo_like():
    """Is the random start a faint image around mid-grey with little power at the highest frequencies?"""
    like = torch.zeros(1, 3, 48, 64, dtype=torch.float64)
    start = noise_start(like, torch.Generator().manual_seed(0))
    assert start.shape == like.shape and start.dtype == like.dtype
    assert float(start.std()) == pytest.approx(NOISE_START_STD, rel=1e-6)
    assert float(start.mean(dim=(-2, -1)).abs().max()) < 1e-9
    assert float(start.abs().max()) < 1.0  # inside the valid range [-1, 1]
    # power above half Nyquist, against uniform noise over the valid range (the former start)
    uniform = (
        torch.rand(1, 3, 48, 64, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    )
    fine_power = float(high_frequency_share(start) * start.var())
    assert fine_power < 0.02 * float(high_frequency_share(uniform) * uniform.var())


def test_learning_rate_follows_a_smooth_cosine():
    """Does the schedule fall smoothly from the start value to the final one, with no jump?"""
    opt = Optimization(num_iters=101, learning_rate=0.1, final_lr_fraction=0.1)
    lrs = [opt.lr_at(t) for t in range(101)]
    assert lrs[0] == pytest.approx(0.1) and lrs[-1] == pytest.approx(0.01)
    steps = np.diff(lrs)
    assert (steps <= 1e-12).all()
    assert float(np.abs(steps).max()) < 0.1 * 0.9 * np.pi / 100


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"parameterization": "wavelet"}, "parameterization"),
        ({"num_iters": 0}, "num_iters"),
        ({"learning_rate": 0}, "learning_rate"),
    ],
)
def test_optimization_rejects_bad_settings(changes, match):
    """Are impossible settings reported by name?"""
    with pytest.raises(ValueError, match=match):
        Optimization(**changes)


def test_task_rejects_mismatched_weights(images):
    """Is a style weight list of the wrong length reported instead of silently truncated by zip?"""
    with pytest.raises(ValueError, match="one weight per style layer"):
        tiny_task(images, style_weights=[1.0, 2.0])
