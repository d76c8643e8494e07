"""Tests for course_utils.image: preprocessing round trip and image-space regularizers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.ndimage import gaussian_filter1d

from course_utils.image import (
    IMAGE_SIZE,
    blur_image,
    deprocess,
    grey_levels,
    jitter,
    pixel_bounds,
    preprocess,
    rescale,
)


def _random_pixels(shape, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


def test_round_trip_uint8_batch():
    """Does deprocess(preprocess(x)) give back the same uint8 pixels when no resize happens?"""
    pixels = _random_pixels((3, 32, 48, 3))
    x = preprocess(pixels, size=None)
    assert x.shape == (3, 3, 32, 48) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1
    np.testing.assert_array_equal(deprocess(x), pixels)


def test_round_trip_single_image_and_pil():
    """Are a single HWC array and the same PIL image preprocessed identically?"""
    pixels = _random_pixels((40, 40, 3))
    from_array = preprocess(pixels, size=None)
    from_pil = preprocess(Image.fromarray(pixels), size=None)
    torch.testing.assert_close(from_array, from_pil)
    np.testing.assert_array_equal(deprocess(from_array[0]), pixels)


def test_resize_shorter_side_keeps_aspect():
    """Does an int size resize the shorter side and keep the aspect ratio?"""
    x = preprocess(_random_pixels((100, 200, 3)), size=50)
    assert x.shape == (1, 3, 50, 100)
    assert preprocess(_random_pixels((100, 200, 3)), size=(64, 64)).shape == (1, 3, 64, 64)
    assert preprocess(_random_pixels((IMAGE_SIZE, IMAGE_SIZE, 3))).shape[-1] == IMAGE_SIZE


def test_bad_inputs_are_explained():
    """Are float images and wrong shapes rejected with a message that says what to do?"""
    with pytest.raises(TypeError, match="uint8"):
        preprocess(np.zeros((8, 8, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        preprocess(np.zeros((8, 8), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        deprocess(torch.zeros(1, 1, 4, 4))


def test_rescale_per_image():
    """Does rescale map each image of a batch to exactly [0, 1] independently?"""
    x = torch.stack([torch.linspace(-5, 3, 48).view(3, 4, 4), torch.linspace(10, 20, 48).view(3, 4, 4)])
    out = rescale(x)
    assert out.shape == x.shape
    for img in out:
        assert img.min() == 0 and img.max() == 1


def test_jitter_inverts():
    """Does jittering back by the opposite offsets restore the image, moving pixels as documented?"""
    x = torch.arange(2 * 3 * 5 * 7, dtype=torch.float32).view(2, 3, 5, 7)
    moved = jitter(x, 2, 1)
    assert moved[0, 0, 1, 2] == x[0, 0, 0, 0]
    torch.testing.assert_close(jitter(moved, -2, -1), x)


@pytest.mark.parametrize("sigma", [0.5, 0.6, 1.0, 2.0])
def test_blur_matches_scipy(sigma):
    """Does blur_image match scipy's gaussian_filter1d along both axes (CS231n's blur)?"""
    x = torch.randn(2, 3, 20, 17, generator=torch.Generator().manual_seed(0))
    expected = gaussian_filter1d(x.numpy(), sigma, axis=2)
    expected = gaussian_filter1d(expected, sigma, axis=3)
    torch.testing.assert_close(blur_image(x, sigma), torch.from_numpy(expected), atol=1e-5, rtol=1e-5)


def test_blur_zero_sigma_is_identity():
    """Is sigma 0 a no-op?"""
    x = torch.randn(1, 3, 8, 8)
    assert blur_image(x, 0) is x


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.gpu
def test_functions_stay_on_gpu():
    """Do the tensor functions keep their input's device?"""
    x = preprocess(_random_pixels((1, 16, 16, 3)), size=None, device="cuda")
    for out in (jitter(x, 1, 1), blur_image(x, 1.0), rescale(x)):
        assert out.device == x.device


def test_pixel_bounds_are_where_black_and_white_pixels_land():
    """Are pixel_bounds the preprocessed values of pixels 0 and 255, shaped to broadcast over a batch?"""
    low, high = pixel_bounds(dtype=torch.float64)
    assert low.shape == high.shape == (1, 3, 1, 1) and low.dtype == torch.float64
    black_white = preprocess(np.array([[[0, 0, 0], [255, 255, 255]]], dtype=np.uint8), size=None)
    torch.testing.assert_close(low.float().flatten(), black_white[0, :, 0, 0])
    torch.testing.assert_close(high.float().flatten(), black_white[0, :, 0, 1])


def test_grey_levels_converts_normalized_changes_to_pixel_units():
    """Does a change of one grey level in pixels come back as 1 from grey_levels?"""
    a = preprocess(np.full((4, 4, 3), 100, np.uint8), size=None)
    b = preprocess(np.full((4, 4, 3), 103, np.uint8), size=None)
    torch.testing.assert_close(grey_levels(b - a), torch.full_like(a, 3.0), rtol=0, atol=1e-4)
