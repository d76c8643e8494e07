"""A small, fixed classifier for checks that step an image many times (fooling images).

``make_fooling_image`` takes the model as an argument, and its specified loop is the same for any
differentiable classifier. Checking it exactly means running up to 100+ forward and backward passes per
case: 60-100 ms each through EfficientNet-Lite0 in float64 on a laptop CPU, but well under 1 ms
through this network. Its weights come from a fixed seed, so every process (the grader, the student's
kernel, the student process of the batch grader) builds the same network.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["LOGIT_SCALE", "PROBE_CLASSES", "PROBE_SEED", "probe_classifier"]

#: Number of classes, as ImageNet's: targets are integers in [0, 1000) as the notebook says.
PROBE_CLASSES = 1000
#: Seed of the weights.
PROBE_SEED = 0
#: Scale of the last layer: gradients of the scores with respect to the input of the size a trained
#: network's have (about 8 here, 11 for EfficientNet-Lite0 at 128 px), so that a student's small epsilon
#: in a normalization (``g / (g.norm() + 1e-8)``) changes nothing measurable. Normalized steps and the
#: argmax do not depend on it.
LOGIT_SCALE = 100.0


def probe_classifier(dtype: torch.dtype = torch.float64) -> nn.Module:
    """A two-layer ReLU CNN with global average pooling, in eval mode, weights fixed by :data:`PROBE_SEED`.

    Args:
        dtype: of the parameters (the checks use float64).

    Returns:
        ``(N, 3, H, W) -> (N, 1000)`` scores (logits), for any ``H, W >= 2``.
    """
    model = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(32, PROBE_CLASSES),
    )
    generator = torch.Generator().manual_seed(PROBE_SEED)
    with torch.no_grad():
        for parameter in model.parameters():
            weights = torch.randn(parameter.shape, generator=generator, dtype=torch.float64)
            fan_in = parameter[0].numel() if parameter.dim() > 1 else 100
            parameter.copy_(weights / fan_in**0.5)
        model[-1].weight.mul_(LOGIT_SCALE)
        model[-1].bias.mul_(LOGIT_SCALE)
    return model.to(dtype).eval().requires_grad_(False)
