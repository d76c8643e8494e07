"""Attribution maps without a model, the score along IG's path, and deletion curves (faithfulness).

Everything here works on the maps the notebook's (the student's) functions return, or on the model's scores,
and never computes an attribution itself: the attribution methods are passed in as functions.

* **The control** of the sanity check: the Sobel gradient magnitude of the image, a map that ignores the
  model entirely (:func:`sobel_edges`); the sanity check itself is in :mod:`course_utils.attribution_sanity`.
* **The path** of Integrated Gradients: the class score from the baseline to the image (:func:`path_scores`).
* **Deletion curves** (Petsiuk, Das and Saenko, "RISE", BMVC 2018, https://arxiv.org/abs/1806.07421):
  delete the most-attributed pixels first and watch the class probability fall; a faithful map makes it
  fall fast (small area under the curve).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "DELETION_FRACTIONS",
    "PATH_ALPHAS",
    "AttributionFunction",
    "DeletionCurves",
    "attribution_map",
    "deletion_curves",
    "path_scores",
    "sobel_edges",
]

#: ``f(X, y, model) -> (N, H, W)`` maps: a method with its settings bound (e.g. a lambda around the
#: student's ``integrated_gradients`` with its baseline and steps); it may return a dict of several
#: labelled maps instead (see :func:`course_utils.attribution_sanity.randomization_test`).
AttributionFunction = Callable[
    [torch.Tensor, torch.Tensor, nn.Module], torch.Tensor | Mapping[str, torch.Tensor]
]


def sobel_edges(X: torch.Tensor) -> torch.Tensor:
    """Edge strength of each image: Sobel gradient magnitude of the channel mean. Ignores any model.

    Args:
        X: images ``(N, 3, H, W)``, normalized or not (any float dtype, any device).

    Returns:
        ``(N, H, W)``, same dtype and device, ``sqrt(gx**2 + gy**2)`` of the Sobel filters applied to the
        mean over the colour channels (borders replicated), in the input's units per pixel.
    """
    grey = X.detach().mean(dim=1, keepdim=True)
    gx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=X.dtype, device=X.device)
    kernels = torch.stack([gx, gx.T]).unsqueeze(1)  # (2, 1, 3, 3)
    grads = F.conv2d(F.pad(grey, (1, 1, 1, 1), mode="replicate"), kernels)
    return grads.pow(2).sum(dim=1).sqrt()


def attribution_map(attributions: torch.Tensor, absolute: bool = True) -> torch.Tensor:
    """Reduce per-channel attributions ``(N, 3, H, W)`` to one value per pixel ``(N, H, W)``.

    The channels are SUMMED (attributions add up: a pixel's share of the score is the sum of its three
    channels' shares), then the absolute value is taken if ``absolute``, as Captum's ``absolute_value``
    display does.

    Args:
        attributions: ``(N, C, H, W)``, e.g. from ``integrated_gradients``.
        absolute: take the absolute value of the channel sum (default) or keep its sign.

    Returns:
        ``(N, H, W)``, same dtype and device, detached.
    """
    summed = attributions.detach().sum(dim=1)
    return summed.abs() if absolute else summed


#: Positions on the path from the baseline (0) to the image (1) where :func:`path_scores` evaluates the
#: score: every 0.01 up to 0.2, where the score of a photo rises from the black image's, then every 0.05.
PATH_ALPHAS: tuple[float, ...] = tuple(
    float(a) for a in np.round(np.r_[np.arange(0, 0.2, 0.01), np.arange(0.2, 1.0001, 0.05)], 4)
)


def path_scores(
    X: torch.Tensor,
    y: torch.Tensor,
    model: nn.Module,
    baseline: torch.Tensor,
    alphas: Sequence[float] = PATH_ALPHAS,
    batch_size: int = 25,
) -> tuple[np.ndarray, np.ndarray]:
    """The class score along the straight path from the baseline to each image (forward passes only).

    Integrated Gradients integrates the gradient along this path; where the score rises steeply, a sum
    over a few points misses most of the rise.

    Args:
        X: images ``(N, 3, H, W)`` on the model's device.
        y: labels ``(N,)`` (int64).
        model: the classifier.
        baseline: ``(N, 3, H, W)`` (or broadcastable), the start of the path.
        alphas: positions on the path, 0 for the baseline and 1 for the image (default :data:`PATH_ALPHAS`).
        batch_size: images per forward pass.

    Returns:
        ``(alphas, scores)``: ``(P,)`` positions and ``(N, P)`` unnormalized scores (logits) of each image's
        class, float64 NumPy arrays.
    """
    alphas = np.asarray(alphas, dtype=np.float64)
    base = baseline.detach().expand_as(X)
    pairs = [(n, a) for n in range(len(X)) for a in alphas]
    scores = []
    with torch.no_grad():
        for start in range(0, len(pairs), batch_size):
            chunk = pairs[start : start + batch_size]
            images = torch.stack([base[n] + float(a) * (X[n] - base[n]) for n, a in chunk])
            labels = torch.stack([y[n] for n, _ in chunk])
            scores.append(model(images).gather(1, labels.view(-1, 1)).squeeze(1).double().cpu())
    return alphas, torch.cat(scores).view(len(X), len(alphas)).numpy()


#: Shares of the pixels deleted along a deletion curve: dense at the start, where the probability of a
#: well-classified photo falls, then every 10% up to all pixels.
DELETION_FRACTIONS: tuple[float, ...] = (
    0.0, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0,
)  # fmt: skip


@dataclass(frozen=True)
class DeletionCurves:
    """What :func:`deletion_curves` measured.

    Attributes:
        fractions: ``(F,)`` shares of the pixels deleted, increasing (usually from 0 to 1).
        probabilities: method -> ``(N, F)``: softmax probability of each image's class after deleting
            that share of its most-attributed pixels.
    """

    fractions: np.ndarray
    probabilities: dict[str, np.ndarray]

    def mean(self, method: str) -> np.ndarray:
        """``(F,)`` the curve averaged over the images."""
        return self.probabilities[method].mean(axis=0)

    def area(self, method: str) -> np.ndarray:
        """``(N,)`` area under each image's curve (trapezoid rule over the fractions; in [0, 1] for 0..1).

        Lower is better: the probability fell sooner. Compare with the random order's area.
        """
        return np.trapezoid(self.probabilities[method], self.fractions, axis=1)


def _deletion_order(maps: torch.Tensor) -> torch.Tensor:
    """``(N, H*W)`` rank of each pixel, 0 for the most attributed; ties broken by pixel index."""
    flat = maps.flatten(1)
    order = torch.argsort(flat, dim=1, descending=True, stable=True)
    ranks = torch.empty_like(order)
    positions = torch.arange(flat.shape[1], device=flat.device).expand_as(order)
    return ranks.scatter_(1, order, positions)


def deletion_curves(
    maps: Mapping[str, torch.Tensor],
    X: torch.Tensor,
    y: torch.Tensor,
    model: nn.Module,
    fill: torch.Tensor | float = 0.0,
    fractions: Sequence[float] = DELETION_FRACTIONS,
    batch_size: int = 25,
    seed: int = 0,
    random_label: str | None = "random order",
) -> DeletionCurves:
    """Delete the most-attributed pixels first and record the class probability (deletion curves).

    For each share ``f`` of ``fractions``, the ``round(f * H * W)`` pixels with the largest map values (all
        three channels of a pixel together) are replaced by ``fill``; the model (no gradients) then gives the
        softmax probability of class ``y``. Ties are deleted in pixel order. A random order (seeded) is added
        under ``random_label`` as the baseline a useful map must beat.

        Args:
            maps: method -> ``(N, H, W)`` maps (larger = more important) for the images ``X``.
            X: images ``(N, 3, H, W)``, normalized, on the model's device.
            y: labels ``(N,)`` (int64).
            model: the classifier.
            fill: what a deleted pixel becomes, in normalized units: a number, or a tensor broadcastable to
                ``X`` (e.g. the black image, ``low`` from ``pixel_bounds``).
            fractions: increasing shares in [0, 1] (default :data:`DELETION_FRACTIONS`); include 0 and 1 for
                areas comparable with other curves.
            batch_size: images per forward pass (memory: ``batch_size`` images at a time).
            seed: seeds the random order.
            random_label: label of the random-order curve, or ``None`` to leave it out.

        Returns:
            :class:`DeletionCurves`.

        Raises:
            ValueError: if a map's shape is not ``(N, H, W)`` of ``X``, or the fractions are not increasing
                shares in [0, 1].
    """
    fractions = np.asarray(fractions, dtype=np.float64)
    if fractions.ndim != 1 or len(fractions) < 2 or np.any(np.diff(fractions) <= 0):
        raise ValueError(f"fractions must be at least two increasing shares, got {fractions.tolist()}")
    if fractions[0] < 0 or fractions[-1] > 1:
        raise ValueError(f"fractions are shares of the pixels, in [0, 1]; got {fractions.tolist()}")
    N, _, H, W = X.shape
    maps = dict(maps)
    for label, value in maps.items():
        if tuple(value.shape) != (N, H, W):
            raise ValueError(
                f"the {label!r} maps have shape {tuple(value.shape)}; deletion needs one (H, W) map per "
                f"image, {(N, H, W)}"
            )
    if random_label is not None:
        generator = torch.Generator().manual_seed(seed)
        maps[random_label] = torch.rand((N, H, W), generator=generator).to(X.device)
    counts = torch.as_tensor(np.round(fractions * H * W).astype(np.int64), device=X.device)
    fill_tensor = torch.as_tensor(fill, dtype=X.dtype, device=X.device).expand_as(X)
    probabilities = {}
    for label, value in maps.items():
        ranks = _deletion_order(value.detach()).view(N, 1, H, W)
        # (N, F) pairs, image-major, made and scored batch_size at a time
        pairs = [(n, f) for n in range(N) for f in range(len(fractions))]
        scores = []
        with torch.no_grad():
            for start in range(0, len(pairs), batch_size):
                chunk = pairs[start : start + batch_size]
                images = torch.stack(
                    [torch.where(ranks[n] < counts[f], fill_tensor[n], X[n]) for n, f in chunk]
                )
                labels = torch.stack([y[n] for n, _ in chunk])
                p = model(images).softmax(dim=1).gather(1, labels.view(-1, 1)).squeeze(1)
                scores.append(p.double().cpu())
        probabilities[label] = torch.cat(scores).view(N, len(fractions)).numpy()
    return DeletionCurves(fractions=fractions, probabilities=probabilities)
