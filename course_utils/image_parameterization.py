"""Ways to write an image as something an optimizer updates, for style transfer and feature inversion.

Optimizing the pixels directly (:func:`pixel_image`) works with VGG but gives high-frequency colour
speckle on EfficientNet-Lite0: every pixel moves independently, and cheap pixel-level patterns change
this network's features fastest. Mordvintsev et al., "Differentiable Image Parameterizations", Distill
2018 (https://distill.pub/2018/differentiable-parameterizations/) optimize instead the Fourier
coefficients of a colour-decorrelated image, scaled by ``1 / f**decay`` so that an optimizer step changes
low frequencies far more than high ones (:func:`fourier_image`), built on the same frequency weighting
and colour matrix as the course's class visualization (:mod:`course_utils.class_visualization`). Both
keep the image in the valid pixel range, by construction (a sigmoid) or by clamping.
:func:`noise_start` makes the faint photo-like noise a random start begins from.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from course_utils.class_visualization import COLOR_CORRELATION_SQRT, fourier_weights
from course_utils.image import channel_stats

__all__ = ["NOISE_START_STD", "ImageParameterization", "fourier_image", "noise_start", "pixel_image"]

#: ``(parameters, render)``: the tensors the optimizer updates, and a function returning the current
#: image ``(1, 3, H, W)``, normalized like :func:`course_utils.image.preprocess`'s output.
ImageParameterization = tuple[list[torch.Tensor], Callable[[], torch.Tensor]]


def pixel_image(init: torch.Tensor) -> ImageParameterization:
    """The plain parameterization: the optimizer moves each normalized pixel independently.

    Args:
        init: starting image ``(1, 3, H, W)``, normalized (copied, not modified).

    Returns:
        ``([pixels], render)``; ``render()`` returns the pixels clamped to the valid range ``[-1, 1]``
        (the clamp is applied to the parameter in place, a projection after each step).
    """
    mean, std = channel_stats(init.dtype, init.device)
    low, high = (0.0 - mean) / std, (1.0 - mean) / std
    pixels = init.detach().clone().requires_grad_(True)

    def render() -> torch.Tensor:
        with torch.no_grad():
            pixels.copy_(torch.maximum(torch.minimum(pixels, high), low))
        return pixels

    return [pixels], render


def _color_matrix(like: torch.Tensor) -> torch.Tensor:
    """:data:`COLOR_CORRELATION_SQRT` scaled so its largest column has norm 1 (as in lucid/lucent)."""
    m = torch.tensor(COLOR_CORRELATION_SQRT, dtype=like.dtype, device=like.device)
    return m / m.norm(dim=0).max()


def fourier_image(init: torch.Tensor, decay: float = 1.0, pad: int = 8) -> ImageParameterization:
    """Decorrelated Fourier parameterization (Mordvintsev et al. 2018), started exactly at ``init``.

    ``pixels01 = sigmoid(M @ irfft2(scale * spectrum))`` with ``M`` the ImageNet colour-correlation
    matrix (:data:`~course_utils.class_visualization.COLOR_CORRELATION_SQRT`) and
    ``scale = 1 / f**decay`` the frequency weighting of the class visualization's preconditioning, so
    that Adam's per-coefficient steps become image changes with the ``1/f`` spectrum of photos.

    Args:
        init: starting image ``(1, 3, H, W)``, normalized; pixels are kept at least 1/255 away from 0
            and 1 so that the sigmoid can be inverted.
        decay: frequency exponent (``0``: a colour-decorrelated pixel basis).
        pad: the Fourier image is ``pad`` pixels larger on every side (started from a mirrored
            border) and cropped: a Fourier series is periodic, and without the margin the top and
            bottom (left and right) edges of the result would be tied to each other.

    Returns:
        ``([spectrum], render)``: ``spectrum`` is a real ``(1, 3, H + 2 pad, (W + 2 pad) // 2 + 1, 2)``
        leaf tensor (real and imaginary parts); ``render()`` returns the normalized image
        ``(1, 3, H, W)``, always strictly inside the valid range.
    """
    if init.dim() != 4 or init.shape[:2] != (1, 3):
        raise ValueError(f"init must be one image (1, 3, H, W), got shape {tuple(init.shape)}")
    if not 0 <= pad < min(init.shape[-2:]):
        raise ValueError(f"pad must be in [0, {min(init.shape[-2:])}) pixels for this image, got {pad}")
    h, w = init.shape[-2:]
    big = (h + 2 * pad, w + 2 * pad)
    mean, std = channel_stats(init.dtype, init.device)
    scale = fourier_weights(*big, decay, init)
    color = _color_matrix(init)
    with torch.no_grad():
        padded = F.pad(init, (pad, pad, pad, pad), mode="reflect") if pad else init
        p = (padded * std + mean).clamp(1.0 / 255, 1.0 - 1.0 / 255)
        decorrelated = torch.einsum("ij,njhw->nihw", torch.linalg.inv(color), torch.logit(p))
        spectrum = torch.view_as_real(torch.fft.rfft2(decorrelated, norm="ortho") / scale).contiguous()
    spectrum.requires_grad_(True)

    def render() -> torch.Tensor:
        spatial = torch.fft.irfft2(torch.view_as_complex(spectrum) * scale, s=big, norm="ortho")
        p = torch.sigmoid(torch.einsum("ij,njhw->nihw", color, spatial[..., pad : pad + h, pad : pad + w]))
        return (p - mean) / std

    return [spectrum], render


#: Standard deviation, in normalized pixel units (the valid range is ``[-1, 1]``), of the noise start.
NOISE_START_STD = 0.1


def noise_start(content: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A faint, photo-like noise image around mid-grey, the start of ``init_random=True`` runs.

    Gaussian noise whose spectrum falls off as ``1 / f`` (the spectrum of photos, the same weighting
    as :func:`fourier_image`), scaled to a standard deviation of :data:`NOISE_START_STD`. Uniform noise
    over the whole range would put most of its power at the highest frequencies, which the Fourier
    parameterization changes slowest by design: the speckle would outlive the optimization.

    Args:
        content: the preprocessed content image ``(N, 3, H, W)``; only its shape, dtype and device
            are used.
        generator: a CPU ``torch.Generator`` (the same noise on any device for one seed).

    Returns:
        ``(N, 3, H, W)`` normalized image (``0`` is mid-grey), each channel of mean 0, overall standard
        deviation :data:`NOISE_START_STD`, dtype and device of ``content``.
    """
    n, c, h, w = content.shape
    white = torch.randn((n, c, h, w), generator=generator, dtype=torch.float32)
    spectrum = torch.fft.rfft2(white, norm="ortho") * fourier_weights(h, w, 1.0, white)
    colored = torch.fft.irfft2(spectrum, s=(h, w), norm="ortho")
    colored = colored - colored.mean(dim=(-2, -1), keepdim=True)
    colored = colored * (NOISE_START_STD / colored.std().clamp_min(1e-12))
    return colored.to(dtype=content.dtype, device=content.device)
