"""Provided helpers for the Style Transfer notebook that do not depend on the students' losses.

The style-transfer driver lives in the notebook, where it calls the students' ``content_loss``,
``gram_matrix``, ``style_loss`` and ``tv_loss``; this module holds what it needs around them: a guard
that names the loss functions still missing (instead of a deep traceback), and a SWAG-like feature
transform to compare plain Gram matrices against.

Wang et al., "Rethinking and Improving the Robustness of Image Style Transfer", CVPR 2021
(https://arxiv.org/abs/2104.05623) explain why Gram-matrix style transfer works poorly on ResNets:
peaky, low-entropy activations, a few channels with huge responses that dominate every Gram matrix.
They smooth the activations with a softmax before the Gram matrix (SWAG). :func:`softmax_features`
is such a transform (a softmax across channels at each position, with a temperature). On
EfficientNet-Lite0 the stage outputs are linear bottlenecks with near-Gaussian statistics, and the
transform makes them peakier; the notebook measures this and uses it only for comparison.

:func:`high_frequency_share` measures grain: the share of an image's spectral power above half the
Nyquist frequency, to compare a result with its style image at the same size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from course_utils.image import channel_stats
from course_utils.messages import StudentFacingError

__all__ = [
    "DEFAULT_TEMPERATURE",
    "LUMA_WEIGHTS",
    "LossesNotImplementedError",
    "high_frequency_share",
    "luminance",
    "require_losses",
    "softmax_feature_map",
    "softmax_features",
]

#: Softmax temperature of :func:`softmax_feature_map`, in units of activation (the standard
#: deviation of an EfficientNet-Lite0 stage output is 5 to 10).
DEFAULT_TEMPERATURE = 8.0


class LossesNotImplementedError(StudentFacingError, NotImplementedError):
    """A demo needs the student's loss functions and one or more is missing or broken."""


def require_losses(
    content_loss: Callable[..., torch.Tensor],
    gram_matrix: Callable[..., torch.Tensor],
    style_loss: Callable[..., torch.Tensor],
    tv_loss: Callable[..., torch.Tensor],
) -> None:
    """Check that the four loss functions are implemented before an expensive optimization starts.

    Each function is called once on tiny random tensors; a function that raises or returns something
    other than a tensor (the unimplemented skeleton returns ``None``) is reported by name.

    Args:
        content_loss: ``content_loss(content_weight, content_current, content_original) -> scalar``.
        gram_matrix: ``gram_matrix(features, normalize=True) -> (N, C, C)``.
        style_loss: ``style_loss(feats, style_layers, style_targets, style_weights) -> scalar``.
        tv_loss: ``tv_loss(img, tv_weight) -> scalar``.

    Raises:
        LossesNotImplementedError: naming every function that is missing or fails, and what to do (a
            ``NotImplementedError`` that a notebook shows without a traceback).
    """
    generator = torch.Generator().manual_seed(0)
    feats = torch.randn(1, 4, 5, 6, generator=generator)
    img = torch.randn(1, 3, 8, 8, generator=generator)
    calls: dict[str, Callable[[], object]] = {
        "content_loss": lambda: content_loss(1.0, feats, feats + 1.0),
        "gram_matrix": lambda: gram_matrix(feats),
        "style_loss": lambda: style_loss([feats], [0], [torch.zeros(1, 4, 4)], [1.0]),
        "tv_loss": lambda: tv_loss(img, 1.0),
    }
    problems = []
    for name, call in calls.items():
        try:
            result = call()
        except Exception as exc:  # any student error becomes one readable line
            problems.append(f"{name} raised {type(exc).__name__}: {exc}")
            continue
        if result is None:
            problems.append(f"{name} returned None: not implemented yet")
        elif not isinstance(result, torch.Tensor):
            problems.append(f"{name} returned a {type(result).__name__}, not a torch.Tensor")
    if problems:
        missing = [line.split(" ", 1)[0] for line in problems]
        todo = (
            "Implement it above and run its cell and self-check"
            if len(missing) == 1
            else "Implement them above and run their cells and self-checks"
        )
        raise LossesNotImplementedError(
            f"This cell needs your {_names(missing)}. {todo}, then run this cell again.\n  "
            + "\n  ".join(problems)
        )


def _names(names: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def softmax_feature_map(features: torch.Tensor, temperature: float = DEFAULT_TEMPERATURE) -> torch.Tensor:
    """Transform one feature map with a softmax across channels at each spatial position (SWAG-like).

    Args:
        features: ``(N, C, H, W)`` float tensor, one layer's activations.
        temperature: divides the activations before the softmax; larger is closer to uniform across
            channels, smaller is peakier. Must be positive.

    Returns:
        ``(N, C, H, W)`` tensor, same dtype and device, ``C * softmax(features / temperature, dim=1)``:
        non-negative, and the ``C`` values at each position sum to ``C`` (mean 1), so Gram matrices
        keep a scale that does not depend on the number of channels. Differentiable.

    Example:
        >>> softmax_feature_map(torch.zeros(1, 4, 1, 2)).sum(dim=1)
        tensor([[[4., 4.]]])
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    if features.dim() != 4:
        raise ValueError(f"features must be (N, C, H, W), got shape {tuple(features.shape)}")
    channels = features.shape[1]
    return channels * torch.softmax(features / temperature, dim=1)


def softmax_features(
    feats: Sequence[torch.Tensor], temperature: float = DEFAULT_TEMPERATURE
) -> list[torch.Tensor]:
    """Apply :func:`softmax_feature_map` to every layer of a list from ``extract_features``.

    Args:
        feats: feature maps, each ``(N, C_l, H_l, W_l)``, e.g. the list returned by
            :func:`course_utils.models.extract_features`.
        temperature: see :func:`softmax_feature_map`.

    Returns:
        A new list of the same length with the transformed maps (indices keep their meaning, so
        ``style_layers`` still index into it).
    """
    return [softmax_feature_map(f, temperature) for f in feats]


#: ITU-R BT.601 luma weights of R, G and B.
LUMA_WEIGHTS: tuple[float, float, float] = (0.299, 0.587, 0.114)


def luminance(x: torch.Tensor) -> torch.Tensor:
    """Luma of normalized images ``(N, 3, H, W)`` (as ``preprocess`` makes them): ``(N, H, W)`` in [0, 1]."""
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"expected normalized RGB images (N, 3, H, W), got shape {tuple(x.shape)}")
    x = x.detach().double()
    mean, std = channel_stats(x.dtype, x.device)
    pixels = (x * std + mean).clamp(0.0, 1.0)
    weights = torch.tensor(LUMA_WEIGHTS, dtype=pixels.dtype, device=pixels.device).view(1, 3, 1, 1)
    return (pixels * weights).sum(dim=1)


def high_frequency_share(x: torch.Tensor, cutoff: float = 0.25) -> torch.Tensor:
    """Share of the luminance's spectral power at frequencies above ``cutoff`` cycles per pixel.

    The mean is removed and a Hann window applied first (so that the image border, a jump under the
    FFT's wrap-around, does not count as high frequency). Nyquist is 0.5 cycles/pixel, so the default
    ``cutoff=0.25`` is half the Nyquist frequency: a measure of grain. Grain of a style-transfer result
    is this share divided by the share of the style image resized to the result's size.

    Args:
        x: normalized images ``(N, 3, H, W)``.
        cutoff: radial frequency in cycles per pixel, in ``(0, 0.5)``.

    Returns:
        ``(N,)`` float64 tensor of shares in [0, 1].
    """
    if not 0.0 < cutoff < 0.5:
        raise ValueError(f"cutoff must be in (0, 0.5) cycles per pixel, got {cutoff}")
    y = luminance(x)
    h, w = y.shape[-2:]
    y = y - y.mean(dim=(-2, -1), keepdim=True)
    window = torch.hann_window(h, periodic=False, dtype=y.dtype, device=y.device).view(
        -1, 1
    ) * torch.hann_window(w, periodic=False, dtype=y.dtype, device=y.device).view(1, -1)
    power = torch.fft.rfft2(y * window).abs().pow(2)
    fy = torch.fft.fftfreq(h, dtype=y.dtype, device=y.device).view(-1, 1)
    fx = torch.fft.rfftfreq(w, dtype=y.dtype, device=y.device).view(1, -1)
    # rfft2 keeps one half of the spectrum: columns 1..W/2-1 stand for two coefficients each
    multiplicity = torch.full((1, fx.shape[1]), 2.0, dtype=y.dtype, device=y.device)
    multiplicity[0, 0] = 1.0
    if w % 2 == 0:
        multiplicity[0, -1] = 1.0
    power = power * multiplicity
    high = torch.sqrt(fx**2 + fy**2) > cutoff
    return (power * high).sum(dim=(-2, -1)) / power.sum(dim=(-2, -1)).clamp_min(1e-30)
