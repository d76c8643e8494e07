"""Figures of the Style Transfer notebook: the result large, inputs and intermediate steps small.

Every helper returns ``(Figure, axes)`` and never calls ``plt.show`` (as :mod:`course_utils.plotting`).
Images are normalized tensors ``(1, 3, H, W)`` as :func:`course_utils.style_transfer.style_transfer`
returns them; they are shown through :func:`course_utils.image.deprocess`.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from course_utils.image import deprocess
from course_utils.style_transfer import StyleTransferResult

__all__ = ["show_parameterizations", "show_style_transfer_result"]


def _imshow(ax: plt.Axes, img: torch.Tensor | np.ndarray, title: str, fontsize: float = 9) -> None:
    ax.imshow(deprocess(img) if isinstance(img, torch.Tensor) else img, interpolation="lanczos")
    ax.set_title(title, fontsize=fontsize)
    ax.axis("off")


def show_style_transfer_result(
    result: StyleTransferResult,
    title: str = "result",
    height: float = 3.6,
    show_content: bool = True,
    show_style: bool = True,
) -> tuple[Figure, np.ndarray]:
    """The result large on the left; content, style and snapshots small; the loss curves on the right.

    Args:
        result: what :func:`~course_utils.style_transfer.style_transfer` returned.
        title: caption of the result (the final step is appended).
        height: figure height in inches (the result panel is this tall; small panels half of it).
        show_content: show the content image (leave it out for texture synthesis).
        show_style: show the style image (leave it out for feature inversion).

    Returns:
        The figure and a flat array of its axes: result, the small panels in order (content, style,
        snapshots), the loss axes last.
    """
    small = []
    if show_content:
        small.append((result.content, "content"))
    if show_style:
        small.append((result.style, "style"))
    small += [(img, f"step {step}") for step, img in result.snapshots]
    small = small[:4]
    h, w = result.image.shape[-2:]
    aspect = w / h
    cols = max(1, -(-len(small) // 2))
    widths = [aspect * height] + [aspect * height / 2] * cols + [0.75 * height]
    fig = plt.figure(figsize=(sum(widths) + 0.2 * len(widths), height + 0.4))
    grid = fig.add_gridspec(2, len(widths), width_ratios=widths)
    steps = len(next(iter(result.history.values()), []))
    axes = [fig.add_subplot(grid[:, 0])]
    _imshow(axes[0], result.image, f"{title}, step {steps}", fontsize=10)
    for k, (img, caption) in enumerate(small):
        ax = fig.add_subplot(grid[k % 2, 1 + k // 2])
        _imshow(ax, img, caption, fontsize=8)
        axes.append(ax)
    ax = fig.add_subplot(grid[:, -1])
    later = []  # the y-range ignores step 1: a run started at the content image has a content loss near 0
    for label, values in result.history.items():
        if values and max(values) > 0:
            line = {"color": "0.25", "ls": "--", "lw": 1.0} if label == "total" else {"lw": 1.4}
            ax.plot(np.arange(1, len(values) + 1), values, label=label, **line)
            later += [v for v in values[1:] if v > 0]
    ax.set_yscale("log")
    if later:
        ax.set_ylim(min(later) / 2, max(later) * 2)
    ax.set_xlabel("step", fontsize=8)
    ax.set_title("weighted losses", fontsize=9)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    axes.append(ax)
    fig.tight_layout()
    return fig, np.asarray(axes, dtype=object)


def show_parameterizations(
    images: Sequence[torch.Tensor],
    titles: Sequence[str],
    crop: tuple[int, int, int] = (40, 60, 64),
    height: float = 3.2,
) -> tuple[Figure, np.ndarray]:
    """Results side by side at full size, with an enlarged crop of each below (to see the grain).

    Args:
        images: normalized images ``(1, 3, H, W)`` of the same size.
        titles: one caption per image.
        crop: ``(top, left, size)`` in pixels of the square shown enlarged in the second row.
        height: height in inches of each image in the first row.

    Returns:
        The figure and its ``(2, len(images))`` array of axes.
    """
    if len(images) != len(titles):
        raise ValueError(f"got {len(images)} images but {len(titles)} titles: give one title per image")
    top, left, size = crop
    h, w = images[0].shape[-2:]
    if top + size > h or left + size > w:
        raise ValueError(f"crop {crop} does not fit in an image of {h} x {w} pixels")
    aspect = w / h
    fig, axes = plt.subplots(
        2,
        len(images),
        figsize=(aspect * height * len(images), height * (1 + 1 / aspect) + 0.5),
        gridspec_kw={"height_ratios": [1, 1 / aspect]},
        squeeze=False,
    )
    for k, (img, title) in enumerate(zip(images, titles, strict=True)):
        pixels = deprocess(img)
        _imshow(axes[0, k], pixels, title)
        axes[0, k].add_patch(
            plt.Rectangle((left - 0.5, top - 0.5), size, size, fill=False, edgecolor="white", lw=1)
        )
        zoom = pixels[top : top + size, left : left + size]
        axes[1, k].imshow(zoom, interpolation="nearest")
        axes[1, k].set_title(f"{size} x {size} px crop, enlarged", fontsize=8)
        axes[1, k].axis("off")
    fig.tight_layout()
    return fig, axes
