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


def show_saliency(
    images: ImagesLike,
    saliency: np.ndarray | torch.Tensor,
    titles: Sequence[str] | None = None,
    cell: float = 2.2,
    cmap: str = "hot",
) -> tuple[Figure, np.ndarray]:
    """Show each image with its saliency map underneath.

    Each map is scaled to its own maximum (saliency magnitudes are only comparable within an
    image), so the brightest pixel of every map is white.

    Args:
        images: ``N`` images.
        saliency: ``(N, H, W)`` non-negative float saliency maps.
        titles: ``N`` captions for the images (e.g. class names).
        cell: size of one panel in inches (shrunk so the figure is at most 10 inches wide).
        cmap: matplotlib colormap for the maps.

    Returns:
        The figure and its ``(2, N)`` axes (row 0 images, row 1 saliency maps).

    Raises:
        ValueError: if the number of maps differs from the number of images.
    """
    pics = _as_uint8_list(images)
    maps = saliency.detach().cpu().numpy() if isinstance(saliency, torch.Tensor) else np.asarray(saliency)
    if maps.ndim != 3 or len(maps) != len(pics):
        raise ValueError(
            f"show_saliency needs one (H, W) map per image: got {len(pics)} images and maps of shape "
            f"{maps.shape}; compute_saliency_maps should return (N, H, W)."
        )
    n = len(pics)
    cell = _fit(cell, n)
    fig, axes = plt.subplots(2, n, figsize=(cell * n, cell * 2 + 0.3), squeeze=False)
    for i in range(n):
        axes[0, i].imshow(pics[i])
        axes[1, i].imshow(maps[i], cmap=cmap, vmin=0.0, vmax=max(float(maps[i].max()), 1e-12))
        if titles is not None:
            axes[0, i].set_title(titles[i], fontsize=9)
        axes[0, i].axis("off")
        axes[1, i].axis("off")
    axes[0, 0].text(-0.08, 0.5, "image", transform=axes[0, 0].transAxes, rotation=90, va="center", ha="right")
    axes[1, 0].text(
        -0.08, 0.5, "saliency", transform=axes[1, 0].transAxes, rotation=90, va="center", ha="right"
    )
    fig.tight_layout()
    return fig, axes


def show_fooling(
    original: torch.Tensor,
    fooled: torch.Tensor,
    original_title: str,
    fooled_title: str,
    cell: float = 2.4,
) -> tuple[Figure, np.ndarray]:
    """Show an adversarial example: original, fooled, difference, and the difference magnified 10x.

    Args:
        original: ``(1, 3, H, W)`` normalized tensor.
        fooled: ``(1, 3, H, W)`` normalized tensor, the fooling image.
        original_title: caption, e.g. ``"hay (p=0.91)"``.
        fooled_title: caption, e.g. ``"stingray (p=0.52)"``.
        cell: size of one panel in inches.

    Returns:
        The figure and its ``(1, 4)`` axes. The difference panel maps the largest change to
        black/white (mid-grey is no change); the 10x panel shows ``10 * difference`` around grey.
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
        titles: one caption per image, e.g. ``"step 100, p=0.97"`` or ``"tarantula p=1.00"``.
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


def show_style_transfer(
    content: ImagesLike | None,
    style: ImagesLike | None,
    result: ImagesLike,
    titles: Sequence[str] = ("content", "style", "result"),
    cell: float = 3.0,
    snapshots: Sequence[tuple[str, ImagesLike]] = (),
    curves: Mapping[str, Sequence[float]] | None = None,
    suptitle: str | None = None,
) -> tuple[Figure, np.ndarray]:
    """Show content image, style image, intermediate images, the result and the loss curves in one row.

    Args:
        content: one image, or ``None`` to leave it out (texture synthesis has no content image).
        style: one image, or ``None`` to leave it out (feature inversion has no style image).
        result: one image (tensors are deprocessed).
        titles: captions for content, style and result.
        cell: height of one panel in inches.
        snapshots: ``(caption, image)`` pairs taken during optimization, shown between the style
            image and the result, e.g. ``[("step 50", img50), ("step 100", img100)]``.
        curves: optional losses to plot in a last panel, label -> one value per step, on a log axis
            (e.g. ``{"content": [...], "style": [...], "tv": [...], "total": [...]}``).
        suptitle: optional caption for the whole figure.

    Returns:
        The figure and its ``(1, panels)`` array of axes: images first (in the order above), the
        loss axes last when ``curves`` is given.
    """
    panels = [(img, title) for img, title in ((content, titles[0]), (style, titles[1])) if img is not None]
    panels += [(img, title) for title, img in snapshots]
    panels.append((result, titles[2]))
    pics = [(_as_uint8_list(img)[0], title) for img, title in panels]
    aspect = pics[-1][0].shape[1] / pics[-1][0].shape[0]
    widths = [pic.shape[1] / pic.shape[0] for pic, _ in pics] + ([1.6 * aspect] if curves else [])
    fig, axes = plt.subplots(
        1,
        len(widths),
        figsize=(cell * sum(widths) + 0.3 * len(widths), cell + 0.5),
        gridspec_kw={"width_ratios": widths},
        squeeze=False,
    )
    for ax, (pic, title) in zip(axes[0], pics, strict=False):
        ax.imshow(pic)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    if curves:
        ax = axes[0, -1]
        for label, values in curves.items():
            ax.plot(np.arange(len(values)), np.asarray(values, dtype=float), label=label, lw=1.2)
        ax.set_yscale("log")
        ax.set_xlabel("step", fontsize=8)
        ax.set_title("weighted losses", fontsize=9)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
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
