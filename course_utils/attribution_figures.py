"""Figures of the Attribution notebook. Every helper returns ``(Figure, axes)``, accepts axes to draw into,
and never calls ``plt.show``.

Attribution maps are shown one colour scale per map: 0 is black and the map's ``percentile``-th value
(default the 99th) is white, larger values are clipped. Gradient-based maps put a large share of their
total on a handful of pixels; scaled to their maximum, the rest of the map would be invisible.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from course_utils.attribution import DeletionCurves
from course_utils.attribution_sanity import RandomizationResult
from course_utils.image import deprocess
from course_utils.plotting import MAX_WIDTH

__all__ = [
    "plot_convergence",
    "plot_deletion_curves",
    "plot_path_scores",
    "plot_randomization",
    "show_attributions",
    "show_randomization_maps",
]

MapsLike = np.ndarray | torch.Tensor


def _as_array(maps: MapsLike) -> np.ndarray:
    if isinstance(maps, torch.Tensor):
        return maps.detach().float().cpu().numpy()
    return np.asarray(maps, dtype=np.float32)


def _scaled(one_map: np.ndarray, percentile: float) -> np.ndarray:
    """``one_map`` divided by its ``percentile``-th value, clipped to [0, 1] (0 everywhere for a zero map)."""
    top = float(np.percentile(one_map, percentile))
    if top <= 0:
        top = float(one_map.max())
    return np.clip(one_map / top, 0.0, 1.0) if top > 0 else np.zeros_like(one_map)


def _figure_and_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """``ax`` and its figure, or a new figure of ``figsize`` inches with one axes."""
    if ax is None:
        return plt.subplots(figsize=figsize)
    return ax.figure, ax


def _axes_grid(
    rows: int, cols: int, cell: float, axes: np.ndarray | None, extra_height: float = 0.0
) -> tuple[Figure, np.ndarray]:
    if axes is not None:
        axes = np.asarray(axes).reshape(rows, cols)
        return axes.flat[0].figure, axes
    cell = min(cell, MAX_WIDTH / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cell * cols, cell * rows + extra_height), squeeze=False)
    return fig, axes


def show_attributions(
    images: np.ndarray | torch.Tensor,
    maps: Mapping[str, MapsLike],
    titles: Sequence[str] | None = None,
    cell: float = 2.0,
    percentile: float = 99.0,
    cmap: str = "inferno",
    axes: np.ndarray | None = None,
) -> tuple[Figure, np.ndarray]:
    """One row per image: the image, then its map for each method, side by side.

    Args:
        images: ``N`` images, ``uint8`` ``(N, H, W, 3)`` or normalized tensors ``(N, 3, H, W)``.
        maps: method -> ``(N, H, W)`` non-negative maps (larger = more important), in column order.
        titles: ``N`` captions for the images (e.g. class names).
        cell: panel size in inches (shrunk so that the figure is at most 10 inches wide).
        percentile: each map's value shown white (see the module docstring).
        cmap: matplotlib colormap for the maps.
        axes: ``(N, 1 + len(maps))`` axes to draw into instead of a new figure.

    Returns:
        The figure and its ``(N, 1 + len(maps))`` axes.

    Raises:
        ValueError: if a method does not give one ``(H, W)`` map per image.
    """
    pics = deprocess(images) if isinstance(images, torch.Tensor) else np.asarray(images)
    pics = pics[None] if pics.ndim == 3 else pics
    arrays = {label: _as_array(m) for label, m in maps.items()}
    for label, value in arrays.items():
        if value.shape != pics.shape[:3]:
            raise ValueError(
                f"the {label!r} maps have shape {value.shape}; show_attributions needs one (H, W) map per "
                f"image, {pics.shape[:3]}"
            )
    n, cols = len(pics), 1 + len(arrays)
    fig, axes = _axes_grid(n, cols, cell, axes, extra_height=0.3)
    for i in range(n):
        axes[i, 0].imshow(pics[i])
        if titles is not None:
            axes[i, 0].set_title(titles[i], fontsize=10)
        for j, value in enumerate(arrays.values(), start=1):
            axes[i, j].imshow(_scaled(value[i], percentile), cmap=cmap, vmin=0.0, vmax=1.0)
            if i == 0:
                axes[i, j].set_title(list(arrays)[j - 1], fontsize=10)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig, axes


def show_randomization_maps(
    result: RandomizationResult,
    stages: Sequence[str] | None = None,
    methods: Sequence[str] | None = None,
    cell: float = 1.4,
    percentile: float = 99.0,
    cmap: str = "inferno",
    axes: np.ndarray | None = None,
) -> tuple[Figure, np.ndarray]:
    """The first image's map for each method (rows) after each randomization stage (columns).

    Args:
        result: from :func:`course_utils.attribution_sanity.randomization_test`.
        stages: the stages to show, in order (default: all, ``"trained"`` first).
        methods: the methods to show, in order (default: all, the edge control last).
        cell: panel size in inches (shrunk so that the figure is at most 10 inches wide).
        percentile: each map's value shown white (see the module docstring).
        cmap: matplotlib colormap.
        axes: ``(len(methods), len(stages))`` axes to draw into.

    Returns:
        The figure and its ``(methods, stages)`` axes; column titles name the LAST stage randomized
        ("blocks.3" means: classifier, head and blocks 6 to 3 re-initialized).

    Raises:
        KeyError: for a stage or method that ``result`` does not have.
    """
    stages = list(result.stages if stages is None else stages)
    methods = list(result.maps if methods is None else methods)
    missing = [s for s in stages if s not in result.stages] + [m for m in methods if m not in result.maps]
    if missing:
        raise KeyError(
            f"not in the randomization result: {missing}; it has {result.stages} and {list(result.maps)}"
        )
    fig, axes = _axes_grid(len(methods), len(stages), cell, axes, extra_height=0.4)
    for r, method in enumerate(methods):
        for c, stage in enumerate(stages):
            ax = axes[r, c]
            ax.imshow(
                _scaled(result.maps[method][result.stages.index(stage)], percentile),
                cmap=cmap,
                vmin=0.0,
                vmax=1.0,
            )
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(stage, fontsize=9)
            if c == 0:
                ax.set_ylabel(method, fontsize=9)
    fig.tight_layout()
    return fig, axes


def plot_randomization(
    result: RandomizationResult,
    methods: Sequence[str] | None = None,
    versus_edges: bool = False,
    legend: bool = True,
    ax: Axes | None = None,
) -> tuple[Figure, Axes]:
    """Rank correlation with the trained model's map (or with the edge map), stage by stage.

    Each line is the mean over the images; the shaded band spans the images' smallest to largest value.

    Args:
        result: from :func:`course_utils.attribution_sanity.randomization_test`.
        methods: the methods to plot (default: all).
        versus_edges: plot the correlation with the Sobel edge map instead of with the trained map.
        legend: draw the legend, outside the axes on the right (where it hides no line).
        ax: axes to draw into instead of a new figure.

    Returns:
        The figure and the axes drawn into.
    """
    fig, ax = _figure_and_axes(ax, (6.5, 4.0))
    table = result.edge_correlations if versus_edges else result.correlations
    x = np.arange(len(result.stages))
    for method in result.correlations if methods is None else methods:
        values = table[method]
        style = {"color": "grey", "linestyle": "--"} if method == list(result.maps)[-1] else {}
        (line,) = ax.plot(x, np.nanmean(values, axis=1), marker="o", markersize=3, label=method, **style)
        ax.fill_between(
            x, np.nanmin(values, axis=1), np.nanmax(values, axis=1), color=line.get_color(), alpha=0.12
        )
    ax.axhline(0.0, color="black", linewidth=0.6)
    ax.set_xticks(x, result.stages, rotation=45, ha="right", fontsize=9)
    ax.set_xlabel("last stage re-initialized (cumulative, from the top)")
    ax.set_ylabel("rank correlation with the " + ("edge map" if versus_edges else "trained model's map"))
    ax.set_ylim(-0.45, 1.05)
    ax.grid(alpha=0.3)
    if legend:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig, ax


def plot_deletion_curves(
    curves: DeletionCurves, methods: Sequence[str] | None = None, ax: Axes | None = None
) -> tuple[Figure, Axes]:
    """Mean class probability against the share of pixels deleted, one line per method.

    The x axis is on a square-root scale, so that the first few percent, where good maps make the
    probability fall, are readable. The legend gives each method's mean area under the curve (computed on
    the linear scale; lower: the probability fell sooner).

    Args:
        curves: from :func:`course_utils.attribution.deletion_curves`.
        methods: the methods to plot (default: all).
        ax: axes to draw into instead of a new figure.

    Returns:
        The figure and the axes drawn into.
    """
    fig, ax = _figure_and_axes(ax, (6.5, 4.0))
    for method in curves.probabilities if methods is None else methods:
        style = {"color": "grey", "linestyle": "--"} if method.startswith("random") else {}
        label = f"{method} (area {curves.area(method).mean():.3f})"
        ax.plot(curves.fractions, curves.mean(method), marker="o", markersize=3, label=label, **style)
    ax.set_xscale("function", functions=(np.sqrt, np.square))
    ticks = [0, 0.01, 0.05, 0.1, 0.2, 0.5, 1.0]
    ax.set_xticks(ticks, [f"{t:.0%}" for t in ticks])
    ax.set_xlabel("share of pixels deleted, most attributed first (square-root scale)")
    ax.set_ylabel("probability of the class (mean over photos)")
    ax.set_xlim(0, 1)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig, ax


def plot_path_scores(
    alphas: np.ndarray,
    scores: np.ndarray,
    labels: Sequence[str],
    steps: int | None = None,
    ax: Axes | None = None,
) -> tuple[Figure, Axes]:
    """The class score along the path from the baseline (alpha = 0) to the image (alpha = 1).

    Args:
        alphas: ``(P,)`` positions on the path, from :func:`course_utils.attribution.path_scores`.
        scores: ``(N, P)`` scores (logits) there.
        labels: ``N`` legend labels.
        steps: if given, mark the right Riemann sum's points ``k / steps`` (k = 1 .. steps) on each curve,
            interpolated from ``scores``.
        ax: axes to draw into instead of a new figure.

    Returns:
        The figure and the axes drawn into.
    """
    fig, ax = _figure_and_axes(ax, (5.5, 3.5))
    for values, label in zip(scores, labels, strict=True):
        (line,) = ax.plot(alphas, values, label=label)
        if steps:
            points = np.arange(1, steps + 1) / steps
            ax.plot(points, np.interp(points, alphas, values), "o", color=line.get_color(), markersize=4)
    ax.set_xlabel("alpha: baseline (0) to photo (1)")
    ax.set_ylabel("score of the class (logit)")
    if steps:
        ax.set_title(f"dots: the {steps} points of the right Riemann sum", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig, ax


def plot_convergence(
    steps: Sequence[int],
    errors: Mapping[str, Sequence[float]],
    ylabel: str = "relative completeness error",
    ax: Axes | None = None,
) -> tuple[Figure, Axes]:
    """Errors against the number of steps on log-log axes (a power law is a straight line).

    Args:
        steps: the step counts (x values).
        errors: label -> one positive error per step count.
        ylabel: y-axis label.
        ax: axes to draw into instead of a new figure.

    Returns:
        The figure and the axes drawn into.
    """
    fig, ax = _figure_and_axes(ax, (5.0, 3.5))
    for label, values in errors.items():
        ax.plot(steps, np.asarray(values, dtype=float), marker="o", label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(list(steps), [str(s) for s in steps])
    ax.set_xlabel("steps")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, which="both")
    if len(errors) > 1:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig, ax
