"""The provided style-transfer driver around the student's four loss functions.

Gatys et al., "Image Style Transfer Using Convolutional Neural Networks", CVPR 2016, minimize
``L = L_content + L_style + L_tv`` over the image. The student writes ``content_loss``, ``gram_matrix``,
``style_loss`` and ``tv_loss``; :func:`style_transfer` takes them as a :class:`StyleLosses` and runs the
optimization. What to make (images, sizes, layers, weights) is a :class:`StyleTask` (the notebook's
examples are :data:`course_utils.style_presets.STYLE_PRESETS`); how to optimize is an :class:`Optimization`.

**Why the image parameterization matters.** Optimizing the pixels directly works with VGG but gives
high-frequency colour speckle on EfficientNet-Lite0: every pixel moves independently, and cheap
pixel-level patterns change this network's features fastest. Mordvintsev et al., "Differentiable Image
Parameterizations", Distill 2018 (https://distill.pub/2018/differentiable-parameterizations/) optimize
instead the Fourier coefficients of a colour-decorrelated image, scaled by ``1 / f**decay`` so that an
optimizer step changes low frequencies far more than high ones (the spectrum of natural images), and add
transformation robustness (a small random shift per step). Both that parameterization and the plain one
(the pixels, kept for comparison) are in :mod:`course_utils.image_parameterization`.

Feature maps come from the course's layer list (:func:`course_utils.models.feature_layers`, the same
stages as :func:`course_utils.models.extract_features`), stopping after the deepest layer the losses use.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from course_utils.data import load_image
from course_utils.image import jitter, preprocess
from course_utils.image_parameterization import fourier_image, noise_start, pixel_image
from course_utils.models import feature_layers
from course_utils.progress import progress
from course_utils.style import require_losses

__all__ = [
    "FeatureTransform",
    "Optimization",
    "StyleLosses",
    "StyleTask",
    "StyleTransferResult",
    "extract_features_upto",
    "style_transfer",
]

#: ``feats -> feats'``: applied to the list of feature maps before the style loss (e.g.
#: :func:`course_utils.style.softmax_features`).
FeatureTransform = Callable[[list[torch.Tensor]], list[torch.Tensor]]


@dataclass(frozen=True)
class StyleLosses:
    """The student's four loss functions (CS231n signatures), passed explicitly to the driver.

    Attributes:
        content_loss: ``content_loss(content_weight, content_current, content_original) -> scalar``.
        gram_matrix: ``gram_matrix(features, normalize=True) -> (N, C, C)``.
        style_loss: ``style_loss(feats, style_layers, style_targets, style_weights) -> scalar``.
        tv_loss: ``tv_loss(img, tv_weight) -> scalar``.
    """

    content_loss: Callable[..., torch.Tensor]
    gram_matrix: Callable[..., torch.Tensor]
    style_loss: Callable[..., torch.Tensor]
    tv_loss: Callable[..., torch.Tensor]

    def require(self) -> None:
        """Raise ``NotImplementedError`` naming every loss still missing (:func:`require_losses`)."""
        require_losses(self.content_loss, self.gram_matrix, self.style_loss, self.tv_loss)


@dataclass(frozen=True)
class StyleTask:
    """What to make: images, sizes, layers and weights (the notebook's: ``STYLE_PRESETS``).

    Attributes:
        content_image: a course image name (``"tubingen"``) or a file path.
        style_image: a course image name (``"starry_night"``) or a file path.
        image_size: shorter side of the content image and of the result, in pixels.
        style_size: shorter side of the style image, in pixels (larger: relatively finer strokes).
        content_layer: index into :data:`course_utils.models.FEATURE_LAYERS` for the content loss.
        content_weight: ``w_c`` (``0``: texture synthesis).
        style_layers: indices into ``FEATURE_LAYERS`` for the style loss.
        style_weights: one ``w_l`` per entry of ``style_layers`` (all ``0``: feature inversion).
        tv_weight: ``w_t`` of the total-variation loss.
        init_random: start from faint photo-like noise around mid-grey instead of the content image.
    """

    content_image: str
    style_image: str
    image_size: int
    style_size: int
    content_layer: int
    content_weight: float
    style_layers: Sequence[int]
    style_weights: Sequence[float]
    tv_weight: float
    init_random: bool = False

    def __post_init__(self) -> None:
        if len(self.style_layers) != len(self.style_weights):
            raise ValueError(
                f"style_layers has {len(self.style_layers)} entries but style_weights has "
                f"{len(self.style_weights)}: give one weight per style layer"
            )
        if self.image_size < 16 or self.style_size < 16:
            raise ValueError(
                f"image_size and style_size must be at least 16 pixels, got {self.image_size} and "
                f"{self.style_size}"
            )

    @property
    def deepest_layer(self) -> int:
        """Index of the deepest feature map any loss needs."""
        return max(self.content_layer, *self.style_layers)


@dataclass(frozen=True)
class Optimization:
    """How to optimize: parameterization, Adam schedule, transformation robustness and seed.

    Attributes:
        num_iters: Adam steps.
        parameterization: ``"fourier"`` (decorrelated, ``1/f**decay``-scaled Fourier coefficients,
            :func:`fourier_image`) or ``"pixel"`` (the pixels themselves, :func:`pixel_image`).
        learning_rate: Adam's step size at the start, in units of the parameters (Fourier
            coefficients or normalized pixels); it follows a cosine down to
            ``final_lr_fraction * learning_rate`` at the last step, without restarting the optimizer.
        final_lr_fraction: learning rate at the last step, as a fraction of ``learning_rate``.
        decay: frequency exponent of the Fourier parameterization (1: Distill's choice).
        pad: margin in pixels of the Fourier image around the result (see :func:`fourier_image`).
        max_jitter: each step shifts the image by up to this many pixels (random, with wrap-around)
            before the network sees it; ``0`` disables.
        seed: seeds the noise start and every random shift (a CPU generator: same on any device).
        snapshot_at: steps after which a copy of the image is kept (for the figure).
    """

    num_iters: int = 200
    parameterization: Literal["fourier", "pixel"] = "fourier"
    learning_rate: float = 0.05
    final_lr_fraction: float = 0.1
    decay: float = 1.0
    pad: int = 8
    max_jitter: int = 2
    seed: int = 0
    snapshot_at: Sequence[int] = (25, 66)

    def __post_init__(self) -> None:
        if self.parameterization not in ("fourier", "pixel"):
            raise ValueError(f"parameterization must be 'fourier' or 'pixel', got {self.parameterization!r}")
        if self.num_iters < 1:
            raise ValueError(f"num_iters must be at least 1, got {self.num_iters}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")

    def lr_at(self, step: int) -> float:
        """Learning rate of step ``step`` (0-based): cosine from ``learning_rate`` to the final one."""
        progress_ = step / max(1, self.num_iters - 1)
        low = self.final_lr_fraction
        return self.learning_rate * (low + (1.0 - low) * 0.5 * (1.0 + math.cos(math.pi * progress_)))


@dataclass
class StyleTransferResult:
    """What :func:`style_transfer` returns.

    Attributes:
        image: the result, ``(1, 3, H, W)`` float32, normalized like ``preprocess``'s output (values
            in ``[-1, 1]``), detached, on the model's device.
        content: the preprocessed content image ``(1, 3, H, W)``.
        style: the preprocessed style image ``(1, 3, H_s, W_s)``.
        history: weighted losses, one value per step: ``"content"``, ``"style"``, ``"tv"``, ``"total"``.
        snapshots: ``(step, image)`` copies taken after the steps in ``Optimization.snapshot_at``.
    """

    image: torch.Tensor
    content: torch.Tensor
    style: torch.Tensor
    history: dict[str, list[float]] = field(default_factory=dict)
    snapshots: list[tuple[int, torch.Tensor]] = field(default_factory=list)


def extract_features_upto(x: torch.Tensor, model: nn.Module, last: int) -> list[torch.Tensor]:
    """``extract_features(x, model)[: last + 1]`` without computing the deeper stages.

    Args:
        x: preprocessed images ``(N, 3, H, W)`` on the model's device.
        model: a model from :func:`course_utils.models.load_model`.
        last: index of the deepest feature map wanted (``0 <= last < len(FEATURE_LAYERS)``).

    Returns:
        ``last + 1`` feature maps ``(N, C_i, H_i, W_i)``; gradients flow back to ``x``.
    """
    layers = feature_layers(model)
    if not 0 <= last < len(layers):
        raise ValueError(f"layer index {last} is out of range: the model has {len(layers)} feature maps")
    feats = []
    for layer in layers[: last + 1]:
        x = layer(x)
        feats.append(x)
    return feats


def _load(name: str, size: int, device: torch.device) -> torch.Tensor:
    return preprocess(load_image(name), size=size, device=device)


def _style_targets(
    task: StyleTask,
    losses: StyleLosses,
    model: nn.Module,
    style: torch.Tensor,
    style_transform: FeatureTransform,
) -> list[torch.Tensor]:
    """The style image's Gram matrices at ``task.style_layers``, computed once before the loop."""
    with torch.no_grad():
        style_feats = style_transform(extract_features_upto(style, model, task.deepest_layer))
        return [losses.gram_matrix(style_feats[i]).clone() for i in task.style_layers]


class _ShiftedTargets:
    """The content target for each random shift: the features of the content image shifted the same way.

    The image the network sees is shifted by up to ``max_jitter`` pixels, so its features are compared
    with those of the content image under the same shift; comparing them with the unshifted target would
    ask for features displaced by a fraction of a feature cell (blurring the result and leaving the
    content loss high). There are at most ``(2 * max_jitter + 1) ** 2`` shifts, each computed once.
    """

    def __init__(self, content: torch.Tensor, model: nn.Module, layer: int) -> None:
        self._targets: dict[tuple[int, int], torch.Tensor] = {}
        self._content, self._model, self._layer = content, model, layer

    def __call__(self, shift: tuple[int, int]) -> torch.Tensor:
        if shift not in self._targets:
            with torch.no_grad():
                shifted = jitter(self._content, *shift) if shift != (0, 0) else self._content
                self._targets[shift] = extract_features_upto(shifted, self._model, self._layer)[-1].clone()
        return self._targets[shift]


def style_transfer(
    model: nn.Module,
    losses: StyleLosses,
    task: StyleTask,
    optimization: Optimization | None = None,
    style_transform: FeatureTransform | None = None,
) -> StyleTransferResult:
    """Run style transfer (or feature inversion, or texture synthesis) with the student's losses.

    Each step renders the image from its parameterization, shifts it by a random offset of up to
    ``max_jitter`` pixels, computes the feature maps, the weighted ``content_loss`` (against the
    content image's features under the same shift), ``style_loss`` (which calls ``gram_matrix``) and
    ``tv_loss`` (on the unshifted image), and takes one Adam step.

    Args:
        model: the course network from :func:`course_utils.models.load_model` (frozen); the images
            are created on the device of its parameters.
        losses: the student's loss functions.
        task: images, sizes, layers and weights.
        optimization: parameterization and schedule (default: :class:`Optimization()`, the Fourier
            parameterization, 200 steps).
        style_transform: applied to the feature maps before the style loss and its targets
            (default: none).

    Returns:
        A :class:`StyleTransferResult`.

    Raises:
        NotImplementedError: if one of the losses is not implemented (before any work is done).
        ValueError: if a layer index is out of range.

    Example:
        >>> losses = StyleLosses(content_loss, gram_matrix, style_loss, tv_loss)
        >>> result = style_transfer(model, losses, STYLE_PRESETS["starry_night"])
        >>> show_style_transfer_result(result)
    """
    losses.require()
    opt = optimization or Optimization()
    transform = style_transform or (lambda feats: feats)
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(opt.seed)

    content = _load(task.content_image, task.image_size, device)
    style = _load(task.style_image, task.style_size, device)
    style_targets = _style_targets(task, losses, model, style, transform)
    content_targets = _ShiftedTargets(content, model, task.content_layer)

    start = noise_start(content, generator) if task.init_random else content
    if opt.parameterization == "fourier":
        params, render = fourier_image(start, opt.decay, opt.pad)
    else:
        params, render = pixel_image(start)
    optimizer = torch.optim.Adam(params, lr=opt.learning_rate)

    result = StyleTransferResult(image=content, content=content, style=style)
    result.history = {"content": [], "style": [], "tv": [], "total": []}
    with closing(progress(range(opt.num_iters), desc="style transfer")) as steps:
        for t in steps:
            for group in optimizer.param_groups:
                group["lr"] = opt.lr_at(t)
            img = render()
            jitter_range = (-opt.max_jitter, opt.max_jitter + 1)
            shift = tuple(torch.randint(*jitter_range, (2,), generator=generator).tolist())
            seen = jitter(img, *shift) if opt.max_jitter else img
            feats = extract_features_upto(seen, model, task.deepest_layer)
            c_loss = losses.content_loss(
                task.content_weight, feats[task.content_layer], content_targets(shift)
            )
            s_loss = losses.style_loss(
                transform(feats), list(task.style_layers), style_targets, task.style_weights
            )
            t_loss = losses.tv_loss(img, task.tv_weight)
            loss = c_loss + s_loss + t_loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            for key, value in (("content", c_loss), ("style", s_loss), ("tv", t_loss), ("total", loss)):
                result.history[key].append(value.item())
            if t + 1 in opt.snapshot_at:
                with torch.no_grad():
                    result.snapshots.append((t + 1, render().detach().clone()))
    with torch.no_grad():
        result.image = render().detach().clone()
    return result
