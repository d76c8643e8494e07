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
    "plot_curves",
    "show_class_visualization",
    "show_fooling",
    "show_images",
    "show_saliency",
    "show_style_transfer",
]

ImagesLike = np.ndarray | torch.Tensor | Sequence[np.ndarray]


def _as_uint8_list(images: ImagesLike) -> list[np.ndarray]:
    if isinstance(images, torch.Tensor):
        arr = deprocess(images if images.dim() == 4 else images.unsqueeze(0))
        return [arr] if arr.ndim == 3 else list(arr)
    if isinstance(images, np.ndarray):
        return [images] if images.ndim == 3 else list(images)
    return [np.asarray(i) for i in images]


def _grid(n: int, ncols: int | None, cell: float) -> tuple[Figure, np.ndarray]:
    ncols = min(n, ncols or n)
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
    for i, (ax, pic) in enumerate(zip(axes.flat, pics)):
        ax.imshow(pic)
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
    fig.tight_layout()
    return fig, axes


def show_saliency(
    images: ImagesLike,
    saliency: np.ndarray | torch.Tensor,
    titles: Sequence[str] | None = None,
    cell: float = 2.2,
) -> tuple[Figure, np.ndarray]:
    """Show each image with its saliency map underneath.

    Args:
        images: ``N`` images.
        saliency: ``(N, H, W)`` non-negative float saliency maps.
        titles: ``N`` captions for the images (e.g. class names).
        cell: size of one panel in inches.

    Returns:
        The figure and its ``(2, N)`` axes (row 0 images, row 1 saliency in the ``hot`` colormap).
    """
    pics = _as_uint8_list(images)
    maps = saliency.detach().cpu().numpy() if isinstance(saliency, torch.Tensor) else np.asarray(saliency)
    n = len(pics)
    fig, axes = plt.subplots(2, n, figsize=(cell * n, cell * 2), squeeze=False)
    for i in range(n):
        axes[0, i].imshow(pics[i])
        axes[1, i].imshow(maps[i], cmap=plt.cm.hot)
        if titles is not None:
            axes[0, i].set_title(titles[i], fontsize=9)
        axes[0, i].axis("off")
        axes[1, i].axis("off")
    axes[0, 0].text(-0.08, 0.5, "image", transform=axes[0, 0].transAxes, rotation=90, va="center", ha="right")
    axes[1, 0].text(-0.08, 0.5, "saliency", transform=axes[1, 0].transAxes, rotation=90, va="center", ha="right")
    fig.tight_layout()
    return fig, axes


def show_fooling(
    original: torch.Tensor,
    fooled: torch.Tensor,
    original_title: str,
    fooled_title: str,
    cell: float = 2.6,
) -> tuple[Figure, np.ndarray]:
    """Show an adversarial example: original, fooled, difference, and the difference magnified 10x.

    Args:
        original: ``(1, 3, H, W)`` normalized tensor.
        fooled: ``(1, 3, H, W)`` normalized tensor, the fooling image.
        original_title: caption, e.g. ``"hay (p=0.91)"``.
        fooled_title: caption, e.g. ``"stingray (p=0.52)"``.
        cell: size of one panel in inches.

    Returns:
        The figure and its ``(1, 4)`` axes.
    """
    orig_px = deprocess(original).astype(np.float32)
    fool_px = deprocess(fooled).astype(np.float32)
    diff = fool_px - orig_px
    scale = max(float(np.abs(diff).max()), 1e-6)
    panels = [
        (orig_px.astype(np.uint8), original_title),
        (fool_px.astype(np.uint8), fooled_title),
        ((diff / (2 * scale) + 0.5), f"difference (max {scale:.0f}/255)"),
        (np.clip(10 * diff / 255 + 0.5, 0, 1), "10x difference"),
    ]
    fig, axes = plt.subplots(1, 4, figsize=(cell * 4, cell + 0.4), squeeze=False)
    for ax, (pic, title) in zip(axes.flat, panels):
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
) -> tuple[Figure, np.ndarray]:
    """Show how a class visualization develops: one panel per snapshot.

    Args:
        snapshots: images taken during optimization (tensors are deprocessed with rescaling).
        titles: one caption per snapshot, e.g. ``"step 100, p=0.97"``.
        suptitle: optional caption for the whole figure, e.g. the class name.
        cell: size of one panel in inches.

    Returns:
        The figure and its ``(1, len(snapshots))`` axes.
    """
    pics = [
        deprocess(s, should_rescale=True) if isinstance(s, torch.Tensor) else np.asarray(s) for s in snapshots
    ]
    fig, axes = _grid(len(pics), None, cell)
    for ax, pic, title in zip(axes.flat, pics, titles):
        ax.imshow(pic)
        ax.set_title(title, fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig, axes


def show_style_transfer(
    content: ImagesLike,
    style: ImagesLike,
    result: ImagesLike,
    titles: Sequence[str] = ("content", "style", "result"),
    cell: float = 3.0,
) -> tuple[Figure, np.ndarray]:
    """Show content image, style image and the stylized result side by side.

    Args:
        content: one image.
        style: one image.
        result: one image (tensors are deprocessed).
        titles: three captions.
        cell: height of one panel in inches.

    Returns:
        The figure and its ``(1, 3)`` axes.
    """
    pics = [_as_uint8_list(i)[0] for i in (content, style, result)]
    fig, axes = _grid(3, None, cell)
    for ax, pic, title in zip(axes.flat, pics, titles):
        ax.imshow(pic)
        ax.set_title(title, fontsize=10)
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
