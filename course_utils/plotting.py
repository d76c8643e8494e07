"""Figures the notebooks show. Every helper returns ``(Figure, axes)`` and never calls ``plt.show``.

Images may be given as ``uint8`` arrays ``(H, W, 3)`` / ``(N, H, W, 3)`` or as normalized model
tensors ``(N, 3, H, W)``, which are passed through :func:`course_utils.image.deprocess`.
The helpers work headless (no display needed); in Jupyter the returned figure is shown inline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from course_utils.image import deprocess

__all__ = [
    "MAX_WIDTH",
    "plot_curves",
    "show_class_visualization",
    "show_fooling",
    "show_images",
    "show_saliency",
]

ImagesLike = np.ndarray | torch.Tensor | Sequence[np.ndarray]


def _as_uint8_list(images: ImagesLike) -> list[np.ndarray]:
    if isinstance(images, torch.Tensor):
        arr = deprocess(images if images.dim() == 4 else images.unsqueeze(0))
        return [arr] if arr.ndim == 3 else list(arr)
    if isinstance(images, np.ndarray):
        return [images] if images.ndim == 3 else list(images)
    return [np.asarray(i) for i in images]


#: Widest figure the helpers make, in inches: panels shrink to fit (keeps notebooks small).
MAX_WIDTH = 10.0


def _fit(cell: float, ncols: int) -> float:
    """Panel size in inches so that ``ncols`` panels fit in :data:`MAX_WIDTH`."""
    return min(cell, MAX_WIDTH / max(1, ncols))


def _grid(n: int, ncols: int | None, cell: float) -> tuple[Figure, np.ndarray]:
    ncols = min(n, ncols or n)
    cell = _fit(cell, ncols)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(cell * ncols, cell * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    return fig, axes


def show_images(
    images: ImagesLike,
    titles: Sequence[str] | None = None,
    ncols: int | None = None,
    cell: float = 2.2,
) -> tuple[Figure, np.ndarray]:
    """Show images in a grid with optional titles (e.g. class names).

    Args:
        images: ``N`` images (see the module docstring for accepted forms).
        titles: ``N`` strings, one per image.
        ncols: images per row (default: all in one row).
        cell: size of one image in inches.

    Returns:
        The figure and its ``(rows, cols)`` array of axes.
    """
    pics = _as_uint8_list(images)
    fig, axes = _grid(len(pics), ncols, cell)
    for i, (ax, pic) in enumerate(zip(axes.flat, pics, strict=False)):
        ax.imshow(pic)
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
    fig.tight_layout()
    return fig, axes


def _as_maps(saliency: np.ndarray | torch.Tensor) -> np.ndarray:
    return saliency.detach().cpu().numpy() if isinstance(saliency, torch.Tensor) else np.asarray(saliency)


def show_saliency(
    images: ImagesLike,
    saliency: np.ndarray | torch.Tensor | Mapping[str, np.ndarray | torch.Tensor],
    titles: Sequence[str] | None = None,
    cell: float = 2.2,
    cmap: str = "hot",
) -> tuple[Figure, np.ndarray]:
    """Show each image with its saliency map (or several kinds of maps) underneath.

    Each map is scaled to its own maximum (saliency magnitudes are only comparable within an
    image), so the brightest pixel of every map is white.

    Args:
        images: ``N`` images.
        saliency: ``(N, H, W)`` non-negative float saliency maps, or a mapping from row label to
            such maps for several rows, e.g. ``{"saliency": raw, "SmoothGrad": smooth}``.
        titles: ``N`` captions for the images (e.g. class names).
        cell: size of one panel in inches (shrunk so the figure is at most 10 inches wide).
        cmap: matplotlib colormap for the maps.

    Returns:
        The figure and its ``(1 + rows, N)`` axes (row 0 images, then one row per kind of map).

    Raises:
        ValueError: if the number of maps differs from the number of images.
    """
    pics = _as_uint8_list(images)
    rows = {"saliency": saliency} if not isinstance(saliency, Mapping) else dict(saliency)
    rows = {label: _as_maps(maps) for label, maps in rows.items()}
    for label, maps in rows.items():
        if maps.ndim != 3 or len(maps) != len(pics):
            raise ValueError(
                f"show_saliency needs one (H, W) map per image: got {len(pics)} images and {label!r} maps "
                f"of shape {maps.shape}; compute_saliency_maps should return (N, H, W)."
            )
    n = len(pics)
    cell = _fit(cell, n)
    fig, axes = plt.subplots(
        1 + len(rows), n, figsize=(cell * n, cell * (1 + len(rows)) + 0.3), squeeze=False
    )
    for i in range(n):
        axes[0, i].imshow(pics[i])
        if titles is not None:
            axes[0, i].set_title(titles[i], fontsize=9)
        for r, maps in enumerate(rows.values(), start=1):
            axes[r, i].imshow(maps[i], cmap=cmap, vmin=0.0, vmax=max(float(maps[i].max()), 1e-12))
    for ax in axes.flat:
        ax.axis("off")
    for r, label in enumerate(["image", *rows], start=0):
        axes[r, 0].text(
            -0.08, 0.5, label, transform=axes[r, 0].transAxes, rotation=90, va="center", ha="right"
        )
    fig.tight_layout()
    return fig, axes


#: Magnifications :func:`show_fooling` picks from (the largest that does not saturate most pixels).
_GAINS = (1, 2, 5, 10, 20, 50, 100, 200, 500)


def _pick_gain(diff: np.ndarray) -> float:
    """Largest of :data:`_GAINS` mapping the 99th percentile of ``|diff|`` (grey levels) within range."""
    p99 = float(np.percentile(np.abs(diff), 99))
    fitting = [g for g in _GAINS if g * p99 <= 127.5]
    return float(fitting[-1] if fitting else 1)


def show_fooling(
    original: torch.Tensor,
    fooled: torch.Tensor,
    original_title: str,
    fooled_title: str,
    cell: float = 2.4,
    gain: float | None = None,
) -> tuple[Figure, np.ndarray]:
    """Show an adversarial example: original, fooled, the difference at true scale, and magnified.

    Args:
        original: ``(1, 3, H, W)`` normalized tensor.
        fooled: ``(1, 3, H, W)`` normalized tensor, the fooling image.
        original_title: caption, e.g. ``"hay (p=0.91)"``.
        fooled_title: caption, e.g. ``"stingray (p=0.52)"``.
        cell: size of one panel in inches.
        gain: magnification of the last panel (default: the largest of 1, 2, 5, 10, 20, 50, ...
            that keeps 99% of the pixels unclipped).

    Returns:
        The figure and its ``(1, 4)`` axes. Both difference panels show mid-grey for no change and
        ``grey + gain * difference`` (in pixel units, clipped to [0, 255]): the third panel with gain 1,
        on the true pixel scale (so it looks almost uniformly grey), the fourth with ``gain``; the
        titles give the scale and the largest change in grey levels.
    """
    orig_px = deprocess(original).astype(np.float32)
    fool_px = deprocess(fooled).astype(np.float32)
    diff = fool_px - orig_px
    largest = float(np.abs(diff).max())
    gain = _pick_gain(diff) if gain is None else float(gain)
    panels = [
        (orig_px.astype(np.uint8), original_title),
        (fool_px.astype(np.uint8), fooled_title),
        (np.clip(0.5 + diff / 255, 0, 1), f"difference, true scale (max {largest:.0f}/255)"),
        (np.clip(0.5 + gain * diff / 255, 0, 1), f"difference x{gain:g}"),
    ]
    cell = _fit(cell, 4)
    fig, axes = plt.subplots(1, 4, figsize=(cell * 4, cell + 0.4), squeeze=False)
    for ax, (pic, title) in zip(axes.flat, panels, strict=True):
        ax.imshow(pic)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    return fig, axes


def show_class_visualization(
    snapshots: Sequence[np.ndarray | torch.Tensor],
    titles: Sequence[str],
    suptitle: str | None = None,
    cell: float = 2.2,
    ncols: int | None = None,
    should_rescale: bool = False,
) -> tuple[Figure, np.ndarray]:
    """Show class visualizations: snapshots of one run, or the final images of several classes.

    Args:
        snapshots: images, ``(1, 3, H, W)`` / ``(3, H, W)`` normalized tensors or ``uint8`` arrays.
        titles: one caption per image, e.g. ``"step 100, rank 1"`` or ``"tarantula, rank 412 -> 1"``.
        suptitle: optional caption for the whole figure, e.g. the class name.
        cell: size of one panel in inches (shrunk so the figure is at most 10 inches wide).
        ncols: panels per row (default: all in one row).
        should_rescale: min-max stretch each tensor to the full range before display (see
            :func:`course_utils.image.deprocess`); images clamped to valid pixels need not.

    Returns:
        The figure and its ``(rows, cols)`` axes.

    Raises:
        ValueError: if there are not as many titles as images.
    """
    if len(titles) != len(snapshots):
        raise ValueError(f"Give one title per image: {len(snapshots)} images, {len(titles)} titles.")
    pics = [
        deprocess(s, should_rescale=should_rescale) if isinstance(s, torch.Tensor) else np.asarray(s)
        for s in snapshots
    ]
    fig, axes = _grid(len(pics), ncols, cell)
    for ax, pic, title in zip(axes.flat, pics, titles, strict=False):
        ax.imshow(pic)
        ax.set_title(title, fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig, axes


def plot_curves(
    curves: Mapping[str, Sequence[float]],
    xlabel: str = "step",
    ylabel: str = "",
    title: str | None = None,
    logy: bool = False,
    ax: Axes | None = None,
) -> tuple[Figure, Axes]:
    """Plot one or more curves (losses, probabilities) against the step number.

    Args:
        curves: label -> values, one value per step.
        xlabel: x-axis label.
        ylabel: y-axis label.
        title: optional title.
        logy: use a logarithmic y axis (for losses spanning decades).
        ax: draw into this axes instead of a new figure.

    Returns:
        The figure and the axes drawn into.
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 3))
    else:
        fig = ax.figure
    for label, values in curves.items():
        ax.plot(np.arange(len(values)), np.asarray(values, dtype=float), label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    if len(curves) > 1:
        ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig, ax
