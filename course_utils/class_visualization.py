"""The provided loop around the student's ``class_visualization_update_step``.

Class visualization (Simonyan et al. 2014, https://arxiv.org/abs/1312.6034) does gradient ascent on
the class score ``s_y(img) - l2_reg * ||img||^2`` starting from noise. Done naively on a modern network
it yields high-frequency patterns that the network is sure about and a person cannot read. Following
Yosinski et al. 2015 (https://arxiv.org/abs/1506.06579) and Olah et al. 2017
(https://distill.pub/2017/feature-visualization/), this loop adds, around the student's step:

* **transforms** applied between the image and the network (random jitter, scaling, rotation), so the
  image has to work from many viewpoints. They are differentiable, so the student's step, which calls
  ``model(img)``, sees a :class:`TransformedModel` and autograd maps the gradient back to ``img``.
  A transform is a factory returning a function ``(x, generator) -> x'``, as in lucent
  (:mod:`course_utils.transforms`, re-exported here);
* **gradient preconditioning**: the step the student took is re-shaped in the Fourier domain (low
  frequencies amplified by ``1 / f**decay``) and across colours (the square root of ImageNet's colour
  correlation). With ``decay=2`` and the full colour correlation this would be exactly a plain gradient
  step in Olah et al.'s decorrelated Fourier parameterization; the defaults (1.5, square root) sit
  between that and a pixel step, an approximation that keeps the colours;
* clamping to valid pixels after every step, and optionally a blur schedule (strong early, weak late)
  and the L2 penalty, which the tuned recipe does not need.

Tuned on EfficientNet-Lite0 (see the notebook): plain CS231n settings give confident noise; random
jitter (16 px), scale (0.8..1.2) and rotation (10 degrees) plus ``1 / f**1.5`` preconditioning,
normalized steps of 8, 200 steps, no blur and no L2 give recognizable object parts.

The student's function still acts in place on a pixel-space leaf tensor ``img`` of shape
``(1, 3, H, W)``. The loop's settings are one :class:`Recipe`; ``Recipe.cs231n()`` gives CS231n's plain loop.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field

import torch
from torch import nn

from course_utils.image import blur_image, channel_stats, jitter, pixel_bounds
from course_utils.messages import StudentFacingError
from course_utils.progress import progress
from course_utils.transforms import (
    Transform,
    TransformedModel,
    compose,
    random_jitter,
    random_rotate,
    random_scale,
)

__all__ = [
    "COLOR_CORRELATION_SQRT",
    "ClassVisualization",
    "Recipe",
    "Transform",
    "TransformedModel",
    "UpdateStep",
    "UpdateStepNotImplementedError",
    "compose",
    "create_class_visualization",
    "fourier_weights",
    "precondition",
    "random_jitter",
    "random_rotate",
    "random_scale",
]

#: The student's ``class_visualization_update_step(img, model, target_y, l2_reg, learning_rate)``.
UpdateStep = Callable[[torch.Tensor, nn.Module, int, float, float], None]

#: Square root of the colour covariance of ImageNet photos (RGB in [0, 1]), from lucid/lucent
#: (``color_correlation_svd_sqrt``). Preconditioning a step with ``(M M^T)^(1/2)`` moves pixels
#: along natural colour directions instead of independent R, G, B.
COLOR_CORRELATION_SQRT: tuple[tuple[float, float, float], ...] = (
    (0.26, 0.09, 0.02),
    (0.27, 0.00, -0.05),
    (0.27, -0.09, 0.03),
)


class UpdateStepNotImplementedError(StudentFacingError, NotImplementedError):
    """The update step given to :func:`create_class_visualization` did not change the image."""


def fourier_weights(h: int, w: int, decay: float, like: torch.Tensor) -> torch.Tensor:
    """Weights ``1 / f**decay`` of an ``rfft2`` spectrum of an ``(h, w)`` image, shape ``(h, w // 2 + 1)``.

    ``f`` is the radial frequency in cycles per pixel (floored at ``1 / max(h, w)`` so the constant
    term stays finite); dtype and device follow ``like``. Used by the class visualization's step
    preconditioning and by the style-transfer driver's Fourier parameterization.
    """
    fy = torch.fft.fftfreq(h, device=like.device, dtype=like.dtype).view(-1, 1)
    fx = torch.fft.rfftfreq(w, device=like.device, dtype=like.dtype).view(1, -1)
    freq = torch.sqrt(fx**2 + fy**2).clamp_min(1.0 / max(h, w))
    return freq.pow(-decay)


def _color_preconditioner(like: torch.Tensor) -> torch.Tensor:
    """``(M M^T)^(1/2)`` for ``M =`` :data:`COLOR_CORRELATION_SQRT`, a symmetric ``(3, 3)`` matrix."""
    m = torch.tensor(COLOR_CORRELATION_SQRT, dtype=torch.float64)
    eigenvalues, eigenvectors = torch.linalg.eigh(m @ m.T)
    root = eigenvectors @ torch.diag(eigenvalues.clamp_min(0).sqrt()) @ eigenvectors.T
    return root.to(dtype=like.dtype, device=like.device)


def precondition(step: torch.Tensor, decay: float = 1.0, decorrelate: bool = True) -> torch.Tensor:
    """Re-shape an image step: amplify low frequencies by ``1 / f**decay``, correlate colours.

    For a plain gradient step and ``decay=2`` this equals a step taken in Olah et al.'s Fourier
    parameterization (whose ``1 / f`` scale enters twice), mapped back to pixels; smaller decays
    interpolate towards the plain pixel step. The result has the same L2 norm as ``step``.

    Args:
        step: ``(N, 3, H, W)`` change of a normalized image.
        decay: exponent of the frequency weighting (``0``: no spatial preconditioning).
        decorrelate: also multiply each pixel's RGB step by ``(M M^T)^(1/2)`` with
            ``M =`` :data:`COLOR_CORRELATION_SQRT` (in [0, 1] pixel units). The full ``M M^T``
            (an exact step in the decorrelated parameterization) suppresses colour so much under
            normalized steps that pictures come out grey; its square root keeps them colourful.

    Returns:
        The preconditioned step, same shape, dtype and device.
    """
    out = step
    if decay > 0:
        h, w = step.shape[-2:]
        spectrum = torch.fft.rfft2(step, norm="ortho") * fourier_weights(h, w, decay, step)
        out = torch.fft.irfft2(spectrum, s=(h, w), norm="ortho")
    if decorrelate:
        _, std = channel_stats(step.dtype, step.device)
        out = torch.einsum("ij,nj...->ni...", _color_preconditioner(step), out * std) / std
    norm = out.norm()
    return out * (step.norm() / norm) if norm > 0 else out


@dataclass(frozen=True)
class Recipe:
    """The settings of one class-visualization loop; the defaults are the recipe tuned for this network.

    Pass one to :func:`create_class_visualization`; change a field with :func:`dataclasses.replace`,
    e.g. ``replace(Recipe(), decay=0.0)``. :meth:`cs231n` gives CS231n's plain loop.

    Attributes:
        num_iterations: number of update steps.
        image_size: side of the square image in pixels.
        learning_rate: L2 norm of each (normalized) step, in normalized-pixel units.
        l2_reg: strength of the L2 penalty passed to the update step (the tuned loop needs none:
            clamping to valid pixels bounds the image).
        max_jitter: largest random roll in pixels applied around each step (CS231n's jitter).
        scales: factors for the random rescaling seen by the model (``(1.0,)``: none).
        max_rotation: largest random rotation seen by the model, in degrees (``0``: none).
        extra_transforms: your own :data:`Transform` s, applied after scaling and rotation.
        decay: frequency exponent of the preconditioning, ``1 / f**decay`` (``0`` disables it).
        decorrelate: colour-decorrelate the step (see :func:`precondition`).
        blur_every: blur every this many steps (``0``: never).
        blur_sigma: blur sigma in pixels at the first and at the last step (geometric in between).
        init_std: standard deviation of the starting noise (normalized units).
    """

    num_iterations: int = 200
    image_size: int = 224
    learning_rate: float = 8.0
    l2_reg: float = 0.0
    max_jitter: int = 16
    scales: tuple[float, ...] = (0.8, 0.9, 1.0, 1.1, 1.2)
    max_rotation: float = 10.0
    extra_transforms: tuple[Transform, ...] = ()
    decay: float = 1.5
    decorrelate: bool = True
    blur_every: int = 0
    blur_sigma: tuple[float, float] = (1.0, 0.3)
    init_std: float = 0.1

    def __post_init__(self) -> None:
        problems = []
        if self.num_iterations < 1:
            problems.append(f"num_iterations must be at least 1, got {self.num_iterations}")
        if self.image_size < 32:
            problems.append(f"image_size must be at least 32 px, got {self.image_size}")
        if self.learning_rate <= 0:
            problems.append(f"learning_rate must be positive, got {self.learning_rate}")
        if self.max_jitter < 0 or self.blur_every < 0:
            problems.append(
                f"max_jitter and blur_every must be >= 0, got {self.max_jitter} and {self.blur_every}"
            )
        if not self.scales or min(self.scales) <= 0:
            problems.append(f"scales must be a non-empty tuple of positive factors, got {self.scales}")
        if self.decay < 0 or self.init_std < 0 or self.l2_reg < 0:
            problems.append("decay, init_std and l2_reg must be >= 0")
        if problems:
            raise ValueError("Invalid class-visualization Recipe: " + "; ".join(problems) + ".")

    @classmethod
    def cs231n(cls, num_iterations: int = 100) -> Recipe:
        """CS231n's plain loop: learning rate 25, L2 1e-3, jitter 16 px, blur sigma 0.5 every 10 steps.

        No random scaling or rotation, no preconditioning, unit Gaussian starting noise, 224 px.

        Args:
            num_iterations: number of steps (CS231n: 100).
        """
        return cls(
            num_iterations=num_iterations,
            image_size=224,
            learning_rate=25.0,
            l2_reg=1e-3,
            max_jitter=16,
            scales=(1.0,),
            max_rotation=0.0,
            decay=0.0,
            decorrelate=False,
            blur_every=10,
            blur_sigma=(0.5, 0.5),
            init_std=1.0,
        )

    def transform(self) -> Transform | None:
        """The random transforms between the image and the model (``None`` if there are none)."""
        chain: list[Transform] = []
        if any(s != 1.0 for s in self.scales):
            chain.append(random_scale(self.scales))
        if self.max_rotation > 0:
            chain.append(random_rotate(self.max_rotation))
        chain.extend(self.extra_transforms)
        return compose(chain) if chain else None


@dataclass
class ClassVisualization:
    """What :func:`create_class_visualization` returns.

    The three lists are measured on the untransformed image every ``record_every`` steps (first
    entry: the starting noise, last entry: the final image).

    Attributes:
        image: ``(1, 3, H, W)`` float32 normalized tensor (detached, on the model's device).
        target_y: the class that was maximized.
        probabilities: softmax probability of ``target_y`` (in [0, 1]).
        scores: the raw score (logit) of ``target_y``.
        ranks: the rank of ``target_y`` among the 1000 classes (1: the top prediction).
        snapshots: ``(step, image)`` copies taken every ``show_every`` steps (empty if ``None``).
    """

    image: torch.Tensor
    target_y: int
    probabilities: list[float] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    ranks: list[int] = field(default_factory=list)
    snapshots: list[tuple[int, torch.Tensor]] = field(default_factory=list)

    @property
    def probability(self) -> float:
        """Final softmax probability of ``target_y`` (in [0, 1])."""
        return self.probabilities[-1]

    def summary(self) -> str:
        """One line for a figure title: ``"rank 412 -> 1, score 0.3 -> 41.2"`` (start -> end)."""
        return (
            f"rank {self.ranks[0]} -> {self.ranks[-1]}, score {self.scores[0]:.1f} -> {self.scores[-1]:.1f}"
        )


def _blur_sigma(step: int, num_iterations: int, sigma: tuple[float, float]) -> float:
    start, end = sigma
    fraction = step / max(1, num_iterations - 1)
    return start * (end / start) ** fraction if start > 0 and end > 0 else start + (end - start) * fraction


@torch.no_grad()
def _record(result: ClassVisualization, model: nn.Module, img: torch.Tensor) -> None:
    """Append the target's probability, score and rank on ``img`` to ``result``."""
    scores = model(img)[0]
    target = scores[result.target_y]
    result.probabilities.append(float(scores.softmax(dim=0)[result.target_y]))
    result.scores.append(float(target))
    result.ranks.append(int((scores > target).sum()) + 1)


def create_class_visualization(
    target_y: int,
    model: nn.Module,
    update_step: UpdateStep,
    recipe: Recipe | None = None,
    *,
    seed: int = 0,
    record_every: int = 10,
    show_every: int | None = None,
) -> ClassVisualization:
    """Generate an image that the model classifies as ``target_y`` (regularized gradient ascent).

    Each iteration: (1) roll the image by a random offset of up to ``recipe.max_jitter`` px;
    (2) call ``update_step(img, TransformedModel(model, recipe.transform()), target_y, l2_reg,
    learning_rate)`` on the pixel-space leaf ``img``, in place; (3) precondition the step it took
    (:func:`precondition`); (4) undo the roll, clamp to valid pixels and blur every
    ``recipe.blur_every`` steps.

    Args:
        target_y: ImageNet class index in ``[0, 1000)``.
        model: the classifier; the image is created on the device of its parameters.
        update_step: the student's ``class_visualization_update_step``.
        recipe: the loop's settings (default: ``Recipe()``, the tuned recipe).
        seed: seeds the starting noise and every random choice (a CPU generator, so the same on
            any device up to floating-point differences).
        record_every: record the target's probability, score and rank every this many steps.
        show_every: keep a snapshot every this many steps (``None``: none).

    Returns:
        A :class:`ClassVisualization` with the image, the recorded curves and the snapshots.

    Raises:
        ValueError: if ``target_y`` is not a class index.
        TypeError: if ``recipe`` is not a :class:`Recipe`.
        UpdateStepNotImplementedError: if ``update_step`` does not change the image (not
            implemented yet).

    Example:
        >>> result = create_class_visualization(76, model, class_visualization_update_step, Recipe())
        >>> show_images(result.image, [f"tarantula, {result.summary()}"])
    """
    if not 0 <= target_y < 1000:
        raise ValueError(f"target_y must be an ImageNet class index in [0, 1000), got {target_y}")
    recipe = Recipe() if recipe is None else recipe
    if not isinstance(recipe, Recipe):
        raise TypeError(
            f"recipe must be a Recipe (e.g. Recipe() or Recipe.cs231n()), got {type(recipe).__name__}; "
            "to change one setting use dataclasses.replace(Recipe(), name=value)."
        )
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    transform = recipe.transform()
    seen_model = TransformedModel(model, transform, generator) if transform is not None else model
    low, high = pixel_bounds(device)
    size, max_jitter = recipe.image_size, recipe.max_jitter

    noise = torch.randn(1, 3, size, size, generator=generator) * recipe.init_std
    img = noise.to(device).requires_grad_()
    result = ClassVisualization(image=img.detach().clone(), target_y=target_y)
    _record(result, model, img)

    with closing(progress(range(recipe.num_iterations), desc=f"class {target_y}")) as steps:
        for t in steps:
            ox, oy = (
                torch.randint(-max_jitter, max_jitter + 1, (2,), generator=generator).tolist()
                if max_jitter
                else (0, 0)
            )
            with torch.no_grad():
                img.copy_(jitter(img, ox, oy))
                before = img.detach().clone()
            update_step(img, seen_model, target_y, recipe.l2_reg, recipe.learning_rate)
            with torch.no_grad():
                if t == 0 and torch.equal(img, before):
                    raise UpdateStepNotImplementedError(
                        "The update step left the image unchanged: implement class_visualization_update_step "
                        "(it must change img in place, e.g. img += learning_rate * g / g.norm()) and run its "
                        "cell again."
                    )
                if recipe.decay > 0 or recipe.decorrelate:
                    img.copy_(before + precondition(img - before, recipe.decay, recipe.decorrelate))
                img.copy_(jitter(img, -ox, -oy))
                img.copy_(torch.maximum(torch.minimum(img, high), low))
                if recipe.blur_every and t % recipe.blur_every == recipe.blur_every - 1:
                    img.copy_(blur_image(img, _blur_sigma(t, recipe.num_iterations, recipe.blur_sigma)))
            if img.grad is not None:
                img.grad = None
            if (t + 1) % record_every == 0 or t == recipe.num_iterations - 1:
                _record(result, model, img)
            if show_every and ((t + 1) % show_every == 0 or t == recipe.num_iterations - 1):
                result.snapshots.append((t + 1, img.detach().clone()))
    result.image = img.detach().clone()
    return result
