"""Check inputs shared by several graded functions: the bundled photos at the checks' size."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch

__all__ = ["CHECK_SIZE", "bundled_photos", "photo_count"]

#: Side length, in pixels, of the NetworkVisualization check images: small enough to be fast, large
#: enough for the network. The float64 noise figures of the gradient checks were measured at this size.
CHECK_SIZE = 128


@lru_cache(maxsize=1)
def _samples() -> tuple[np.ndarray, np.ndarray]:
    from course_utils.data import load_imagenet_samples

    X, y, _ = load_imagenet_samples()
    return X, y


def photo_count() -> int:
    """How many labelled photos ship with the course (foolbox's ImageNet samples)."""
    return len(_samples()[1])


def bundled_photos(
    indices: Sequence[int], size: int = CHECK_SIZE, dtype: torch.dtype = torch.float64
) -> tuple[torch.Tensor, torch.Tensor]:
    """Bundled photos ``indices``, preprocessed (normalized) at ``size`` pixels, and their labels.

    Returns:
        ``(X, y)``: ``X`` of shape ``(len(indices), 3, size, size)`` and ``dtype``, ``y`` int64 ``(N,)``.
    """
    from course_utils.image import preprocess

    X, y = _samples()
    index = np.asarray(indices, dtype=np.int64)
    return preprocess(X[index], size=size).to(dtype), torch.from_numpy(y[index])
