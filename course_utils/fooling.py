"""Watching and measuring the student's ``make_fooling_image`` without changing it.

Fooling images (Szegedy et al. 2014, https://arxiv.org/abs/1312.6199) are found by gradient ascent on a
target score, stopping as soon as the model predicts the target. The student's function scores the
current image once per step anyway, so wrapping the model in a :class:`ScoreRecorder` gives the
scores of every step for free. :func:`attack` runs the student's function (passed explicitly) on one
image and returns what happened; :func:`fooling_table` does it for many images and targets, and
:func:`format_fooling_table` prints the summary the notebook shows.

Example:
    >>> result = attack(make_fooling_image, X_tensor[:1], 6, model)
    >>> result.fooled, result.steps, f"{result.change:.2f} grey levels"
    (True, 4, '0.52 grey levels')
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from course_utils.image import grey_levels
from course_utils.messages import StudentFacingError
from course_utils.progress import progress

__all__ = [
    "FoolingAttack",
    "FoolingNotImplementedError",
    "FoolingRow",
    "MakeFoolingImage",
    "ScoreRecorder",
    "attack",
    "fooling_table",
    "format_fooling_table",
]

#: The student's ``make_fooling_image(X, target_y, model) -> X_fooling``, ``X`` of shape ``(1, 3, H, W)``.
MakeFoolingImage = Callable[[torch.Tensor, int, nn.Module], torch.Tensor]


class FoolingNotImplementedError(StudentFacingError, NotImplementedError):
    """``make_fooling_image`` gave back the photo unchanged: the skeleton, not an attack."""


class ScoreRecorder(nn.Module):
    """Wraps a model and remembers the scores (logits) of every single image it is asked to score.

    Args:
        model: the classifier, ``(N, 3, H, W) -> (N, C)`` logits.

    Attributes:
        scores: one detached float32 CPU tensor ``(C,)`` per image scored, in call order.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.scores: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The wrapped model's scores ``(N, C)`` for ``x`` ``(N, 3, H, W)``, recorded on the way."""
        scores = self.model(x)
        self.scores.extend(scores.detach().float().cpu())
        return scores

    def stacked(self) -> torch.Tensor:
        """All recorded scores as one ``(calls, C)`` float32 tensor (``(0, 0)`` if none)."""
        return torch.stack(self.scores) if self.scores else torch.zeros(0, 0)


@dataclass
class FoolingAttack:
    """What happened when :func:`attack` ran the student's function on one image.

    Attributes:
        image: the fooling image, ``(1, 3, H, W)``, detached, on the input's device.
        target_y: the class the image should be classified as.
        original_y: the model's prediction on the untouched image.
        fooled: whether a fresh forward pass on ``image`` predicts ``target_y``.
        steps: number of forward passes the function made before the first one that predicted
            ``target_y`` (the number of update steps for the usual one-pass-per-step loop);
            ``None`` if no pass predicted it.
        scores: ``(passes, C)`` float32 CPU logits of every forward pass the function made.
        change: mean absolute change of a pixel, in grey levels (0..255 scale).
    """

    image: torch.Tensor
    target_y: int
    original_y: int
    fooled: bool
    steps: int | None
    scores: torch.Tensor
    change: float

    @property
    def probabilities(self) -> torch.Tensor:
        """Softmax of :attr:`scores`, ``(passes, C)``."""
        return self.scores.softmax(dim=1)


def attack(
    make_fooling_image: MakeFoolingImage, x: torch.Tensor, target_y: int, model: nn.Module
) -> FoolingAttack:
    """Run ``make_fooling_image(x, target_y, ScoreRecorder(model))`` and measure the result.

    Args:
        make_fooling_image: the student's function.
        x: one normalized image ``(1, 3, H, W)`` on the model's device; it is not modified.
        target_y: class index to fool the model into.
        model: the classifier.

    Returns:
        A :class:`FoolingAttack`.

    Raises:
        ValueError: if ``x`` is not a single image.
        TypeError: if the function returns something other than a tensor of ``x``'s shape
            (for instance ``None`` before it is implemented).
    """
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(
            f"attack expects one image of shape (1, 3, H, W), got {tuple(x.shape)}; use X[i : i + 1]"
        )
    x = x.detach()
    with torch.no_grad():
        original_y = int(model(x).argmax(dim=1))
    recorder = ScoreRecorder(model)
    X_fooling = make_fooling_image(x.clone(), target_y, recorder)
    if not isinstance(X_fooling, torch.Tensor) or X_fooling.shape != x.shape:
        got = tuple(X_fooling.shape) if isinstance(X_fooling, torch.Tensor) else type(X_fooling).__name__
        raise TypeError(
            f"make_fooling_image must return the fooling image, a tensor of shape {tuple(x.shape)}; "
            f"got {got}. Implement it above and run its cell again."
        )
    X_fooling = X_fooling.detach()
    with torch.no_grad():
        fooled = int(model(X_fooling).argmax(dim=1)) == target_y
    scores = recorder.stacked()
    hits = (scores.argmax(dim=1) == target_y).nonzero() if len(scores) else torch.zeros(0, 1)
    steps = int(hits[0, 0]) if len(hits) else None
    change = float(grey_levels(X_fooling - x).abs().mean())
    return FoolingAttack(X_fooling, target_y, original_y, fooled, steps, scores, change)


@dataclass(frozen=True)
class FoolingRow:
    """One (image, target) pair of :func:`fooling_table`.

    Attributes:
        target_y: target class.
        index: index of the image in the batch.
        fooled: whether the model predicts ``target_y`` on the result.
        steps: forward passes before the first that predicted the target (``None``: never).
        change: mean absolute change of a pixel in grey levels.
    """

    target_y: int
    index: int
    fooled: bool
    steps: int | None
    change: float


def fooling_table(
    make_fooling_image: MakeFoolingImage,
    X: torch.Tensor,
    y: Sequence[int] | np.ndarray | torch.Tensor,
    targets: Sequence[int],
    model: nn.Module,
) -> list[FoolingRow]:
    """Attack every image towards every target (skipping images already labelled with the target).

    Args:
        make_fooling_image: the student's function.
        X: normalized images ``(N, 3, H, W)`` on the model's device.
        y: their ``N`` labels.
        targets: target class indices.
        model: the classifier.

    Returns:
        One :class:`FoolingRow` per attacked pair, targets in the given order, images in batch order.

    Raises:
        FoolingNotImplementedError: at once, when the first pair's image comes back unchanged and not
            fooled (the unimplemented skeleton), instead of running every pair to the same result.
    """
    labels = [int(label) for label in (y.tolist() if isinstance(y, torch.Tensor | np.ndarray) else y)]
    if len(labels) != len(X):
        raise ValueError(f"fooling_table needs one label per image: {len(X)} images, {len(labels)} labels")
    # an image already labelled with the target has nothing to fool
    pairs = [(t, i) for t in targets for i, label in enumerate(labels) if label != t]
    rows = []
    with closing(progress(pairs, desc="fooling table")) as steps:
        for target_y, i in steps:
            result = attack(make_fooling_image, X[i : i + 1], target_y, model)
            if not rows and not result.fooled and result.change == 0.0:
                raise FoolingNotImplementedError(
                    "make_fooling_image returned the photo unchanged and not classified as the "
                    f"target (image {i}, target {target_y}), so there is nothing to measure yet: "
                    "implement it above, run its self-check, then run this cell again."
                )
            rows.append(FoolingRow(target_y, i, result.fooled, result.steps, result.change))
    return rows


def format_fooling_table(rows: Sequence[FoolingRow], class_names: Sequence[str]) -> str:
    """Per target: pairs fooled, mean and max steps, mean and max of the mean absolute change.

    Args:
        rows: what :func:`fooling_table` returned.
        class_names: the 1000 class names, to name the targets.

    Returns:
        A fixed-width text table, one line per target after a header line.
    """
    lines = [f"{'target':<12}{'fooled':>8}{'mean steps':>12}{'max steps':>11}{'mean |change|':>15}{'max':>7}"]
    for target_y in dict.fromkeys(r.target_y for r in rows):
        sel = [r for r in rows if r.target_y == target_y]
        steps = [r.steps for r in sel if r.steps is not None]
        changes = [r.change for r in sel]
        mean_steps = f"{np.mean(steps):>12.1f}{max(steps):>11}" if steps else f"{'-':>12}{'-':>11}"
        fooled = f"{sum(r.fooled for r in sel)}/{len(sel)}"
        lines.append(
            f"{class_names[target_y]:<12}{fooled:>8}{mean_steps}{np.mean(changes):>15.2f}{max(changes):>7.2f}"
        )
    return "\n".join(lines)
