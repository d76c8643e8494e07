"""The class report's figures: matplotlib charts of the class statistics, as base64 PNG.

Each function draws one figure from plain data and returns it encoded for an ``<img src="data:...">``
(the report embeds every figure, so it opens offline from a file). Margins are fixed rather than
computed by ``tight_layout``, which costs more than the drawing itself (bench/bench_report.py).
"""

from __future__ import annotations

import base64
import io
from collections import Counter
from typing import Any

from autograder.class_report.stats import AssignmentStats

__all__ = ["POINTS_COLOURS", "points_alt", "points_figure", "time_alt", "time_figure"]

#: What the bar colours of :func:`points_figure` mean, in words (printed under the figure).
POINTS_COLOURS = "Bar colours: green full marks, amber partial credit, red zero points."


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def points_figure(assignment: AssignmentStats) -> str:
    """Small multiples: one bar chart of points per function, plus the totals, as base64 PNG."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    panels = [(f.function, f.points, f.max_points) for f in assignment.functions]
    panels.append(("total", assignment.totals, assignment.max_score))
    cols = min(len(panels), 5)
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(12, 2.3 * rows), squeeze=False)
    for ax, (title, values, top) in zip(axes.flat, panels, strict=False):
        if values:
            counts = Counter(round(v, 2) for v in values)
            xs = sorted(counts)
            width = max(top, 1.0) / (12 if title != "total" else 24)
            colors = ["#2e7d32" if x >= top else "#c62828" if x == 0 else "#f9a825" for x in xs]
            ax.bar(xs, [counts[x] for x in xs], width=width, color=colors)
        ax.set_xlim(-0.06 * max(top, 1.0), top * 1.06 + 0.06)
        ax.set_title(title, fontsize=9, fontweight="bold" if title == "total" else "normal")
        ax.set_xlabel("points", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.spines[["top", "right"]].set_visible(False)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    axes[0][0].set_ylabel("submissions", fontsize=8)
    height = fig.get_figheight()
    fig.subplots_adjust(
        left=0.06, right=0.99, bottom=0.5 / height, top=1 - 0.3 / height, wspace=0.3, hspace=0.8
    )
    return _png(fig)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def points_alt(assignment: AssignmentStats) -> str:
    """Alt text of :func:`points_figure`: what it shows, with the counts it shows, in words."""
    parts = []
    for f in assignment.functions:
        full = sum(p >= f.max_points for p in f.points)
        zero = sum(p == 0 for p in f.points)
        parts.append(
            f"{f.function} (out of {f.max_points:g}): {full} full marks, {len(f.points) - full - zero} "
            f"partial, {zero} zero"
        )
    totals = assignment.totals
    total = (
        f"total (out of {assignment.max_score:g}): median {_median(totals):.3g}, "
        f"min {min(totals):.3g}, max {max(totals):.3g}"
        if totals
        else "no totals"
    )
    return (
        f"Bar charts of points per function, {assignment.assignment}, {assignment.graded} graded "
        f"submissions. " + "; ".join([*parts, total]) + "."
    )


def time_alt(assignment: AssignmentStats) -> str:
    """Alt text of :func:`time_figure`: median and slowest seconds per function and per submission."""
    parts = [
        f"{f.function} median {_median(f.seconds):.3g} s, max {max(f.seconds):.3g} s"
        for f in assignment.functions
        if f.seconds
    ]
    seconds = assignment.submission_seconds
    whole = (
        f"Histogram of grading seconds per submission: median {_median(seconds):.3g} s, "
        f"max {max(seconds):.3g} s."
        if seconds
        else "No times per submission."
    )
    return (
        f"Box plots of grading seconds per call for each function of {assignment.assignment} (log scale): "
        + ("; ".join(parts) if parts else "no timings")
        + f". {whole}"
    )


def time_figure(assignment: AssignmentStats) -> str:
    """Time per function (box plots, log scale) and per submission (histogram), as base64 PNG."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 0.45 * len(assignment.functions) + 1.6))
    timed = [f for f in assignment.functions if f.seconds]
    if timed:
        left.boxplot(
            [[max(s, 1e-4) for s in f.seconds] for f in timed],
            orientation="horizontal",
            tick_labels=[f.function for f in timed],
            flierprops={"markersize": 3},
        )
        left.set_xscale("log")
        left.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        left.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
        left.xaxis.set_minor_formatter(NullFormatter())
    left.set_xlabel("seconds per call (log scale)", fontsize=8)
    left.set_title("time per function", fontsize=9)
    if assignment.submission_seconds:
        right.hist(assignment.submission_seconds, bins=30, color="#5c6bc0")
    right.set_xlabel("seconds per submission (grading, all functions)", fontsize=8)
    right.set_title("time per submission", fontsize=9)
    for ax in (left, right):
        ax.tick_params(labelsize=7)
        ax.spines[["top", "right"]].set_visible(False)
    height = fig.get_figheight()
    fig.subplots_adjust(left=0.2, right=0.99, bottom=0.55 / height, top=1 - 0.3 / height, wspace=0.25)
    return _png(fig)
