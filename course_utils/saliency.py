"""SmoothGrad: saliency maps averaged over noisy copies of the input, built on the student's function.

Smilkov, Thorat, Kim, Viegas and Wattenberg, "SmoothGrad: removing noise by adding noise" (2017,
https://arxiv.org/abs/1706.03825). The raw gradient of a ReLU network jumps from pixel to pixel, because
each pixel's derivative depends on which units happen to be active; averaging the saliency of ``n``
copies of the image, each with Gaussian noise of standard deviation ``sigma * (x_max - x_min)``, keeps
what is stable in a neighbourhood of the image and averages the speckle away. The paper finds
``sigma`` of 10-20% of the input range and ``n`` of about 50 good; fewer samples already help.

The saliency function is passed in, so the demo uses the student's own ``compute_saliency_maps``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from course_utils.image import pixel_bounds

__all__ = ["SaliencyFunction", "smoothgrad"]

#: The student's ``compute_saliency_maps(X, y, model) -> (N, H, W)``.
SaliencyFunction = Callable[[torch.Tensor, torch.Tensor, nn.Module], torch.Tensor]


def smoothgrad(
    saliency_fn: SaliencyFunction,
    X: torch.Tensor,
    y: torch.Tensor,
    model: nn.Module,
    n_samples: int = 20,
    sigma: float = 0.15,
    seed: int = 0,
) -> torch.Tensor:
    """Average ``saliency_fn`` over ``n_samples`` noisy copies of ``X`` (SmoothGrad).

    Args:
        saliency_fn: e.g. the student's ``compute_saliency_maps(X, y, model)``, returning ``(N, H, W)``.
        X: normalized images ``(N, 3, H, W)`` on the model's device. Never modified: each call gets a
            fresh noisy copy, and ``X.requires_grad`` and ``X.grad`` stay as they were.
        y: labels ``(N,)`` (int64, same device).
        model: the classifier.
        n_samples: number of noisy copies (Smilkov et al.: about 50; 20 is close).
        sigma: noise standard deviation as a fraction of the valid input range (``pixel_bounds``; here
            the range is 2, so 0.15 means a standard deviation of 0.3 normalized units, 38 grey levels).
        seed: seeds the noise (a CPU generator, so the same noise on any device).

    Returns:
        ``(N, H, W)`` mean saliency map, same dtype and device as what ``saliency_fn`` returns, detached.

    Raises:
        ValueError: for ``n_samples < 1`` or a negative ``sigma``.
        TypeError: if ``saliency_fn`` returns ``None`` (not implemented yet).

    Example:
        >>> smooth = smoothgrad(compute_saliency_maps, X_tensor[:5], y_tensor[:5], model)
        >>> smooth.shape
        torch.Size([5, 224, 224])
    """
    if n_samples < 1:
        raise ValueError(f"n_samples must be at least 1, got {n_samples}")
    if sigma < 0:
        raise ValueError(f"sigma is a fraction of the input range and must be >= 0, got {sigma}")
    low, high = pixel_bounds(X.device, X.dtype)
    std = sigma * (high - low)  # (1, 3, 1, 1)
    generator = torch.Generator().manual_seed(seed)
    base = X.detach()
    total = None
    for _ in range(n_samples):
        noise = torch.randn(base.shape, generator=generator, dtype=base.dtype).to(base.device)
        saliency = saliency_fn((base + noise * std).clone(), y, model)
        if saliency is None:
            raise TypeError(
                "the saliency function returned None: implement compute_saliency_maps above first."
            )
        saliency = saliency.detach()
        total = saliency if total is None else total + saliency
    return total / n_samples
