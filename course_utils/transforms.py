"""Random, differentiable image transforms for feature visualization (transformation robustness).

Following lucent, a transform is made by a factory and is a function ``(x, generator) -> x'`` of an image
batch ``(N, 3, H, W)``; random choices are drawn from the CPU ``generator`` so that a run is reproducible on
any device. :class:`TransformedModel` puts a transform between the image and the network, so an update
step that calls ``model(img)`` sees a freshly transformed copy and autograd maps the gradient back to
``img`` (Olah et al. 2017, https://distill.pub/2017/feature-visualization/).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from course_utils.image import jitter

__all__ = ["Transform", "TransformedModel", "compose", "random_jitter", "random_rotate", "random_scale"]

#: ``(x, generator) -> x'``: a differentiable map of an image batch ``(N, 3, H, W)``; random
#: choices are drawn from the CPU ``generator`` so that runs are reproducible on any device.
Transform = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def _uniform(generator: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator))


def random_jitter(max_shift: int) -> Transform:
    """Factory: shift the image by up to ``max_shift`` pixels each way, with wrap-around.

    Args:
        max_shift: largest shift in pixels (``0`` disables).

    Returns:
        A :data:`Transform` keeping shape, dtype and device.
    """

    def transform(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if max_shift <= 0:
            return x
        ox, oy = torch.randint(-max_shift, max_shift + 1, (2,), generator=generator).tolist()
        return jitter(x, ox, oy)

    return transform


def random_scale(scales: Sequence[float]) -> Transform:
    """Factory: resize the image by a factor picked uniformly from ``scales`` (bilinear).

    Args:
        scales: candidate factors, e.g. ``(0.9, 1.0, 1.1)``; the output side is ``round(side * s)``.

    Returns:
        A :data:`Transform`; the spatial size changes, channels, dtype and device are kept.
    """
    choices = tuple(float(s) for s in scales)

    def transform(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        s = choices[int(torch.randint(len(choices), (), generator=generator))]
        if s == 1.0:
            return x
        size = (max(1, round(x.shape[-2] * s)), max(1, round(x.shape[-1] * s)))
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)

    return transform


def random_rotate(max_degrees: float) -> Transform:
    """Factory: rotate the image about its centre by up to ``max_degrees`` either way.

    Args:
        max_degrees: largest rotation angle in degrees (``0`` disables); corners are filled by
            reflection so that no flat border appears.

    Returns:
        A :data:`Transform` keeping shape, dtype and device.
    """

    def transform(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if max_degrees <= 0:
            return x
        angle = math.radians(_uniform(generator, -max_degrees, max_degrees))
        cos, sin = math.cos(angle), math.sin(angle)
        theta = torch.tensor([[cos, -sin, 0.0], [sin, cos, 0.0]], dtype=x.dtype, device=x.device)
        grid = F.affine_grid(theta.expand(x.shape[0], 2, 3), list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)

    return transform


def compose(transforms: Sequence[Transform]) -> Transform:
    """Factory: apply ``transforms`` left to right.

    Args:
        transforms: transforms made by the factories of this module (or your own).

    Returns:
        One :data:`Transform`.
    """
    chain = tuple(transforms)

    def transform(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        for t in chain:
            x = t(x, generator)
        return x

    return transform


class TransformedModel(nn.Module):
    """``model(transform(x))``: what the student's update step calls in the tuned loop.

    Each call draws fresh random transforms from ``generator``; gradients flow through the
    transforms back to ``x``.

    Args:
        model: the classifier, ``(N, 3, H, W) -> (N, 1000)`` logits.
        transform: a :data:`Transform`.
        generator: CPU generator for the random choices.
    """

    def __init__(self, model: nn.Module, transform: Transform, generator: torch.Generator) -> None:
        super().__init__()
        self.model = model
        self.transform = transform
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scores ``(N, 1000)`` of the transformed batch ``x`` ``(N, 3, H, W)``."""
        return self.model(self.transform(x, self.generator))
