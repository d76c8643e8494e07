"""The machine-speed unit the notebook budgets are stated in: one forward+backward pass.

Absolute notebook times differ between machines of the same nominal size (the same notebook took 44 s
on one 2-core machine and 114 s on another). Budgets are therefore ratios: a benchmark measures, in the
same run, how long one forward+backward pass of the course model takes on a batch of 5 images at
224x224 (float32, the CPU or the chosen device) and divides its wall time by that.

Usage from a benchmark script::

    from reference_unit import fwd_bwd_seconds
    unit = fwd_bwd_seconds()          # seconds, median of a few repeats
    print(f"{wall:.1f} s = {wall / unit:.0f} units (budget {BUDGET_UNITS})")
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch

__all__ = ["format_budget", "fwd_bwd_seconds"]


def fwd_bwd_seconds(
    device: str | None = None,
    repeats: int = 7,
    batch: int = 5,
    size: int = 224,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """Median seconds of one forward+backward pass of the course model w.r.t. its input.

    Args:
        device: ``"cpu"``/``"cuda"``; default: what :func:`course_utils.device.default_device` picks.
        repeats: timed repeats (after two warm-up passes); the median is returned.
        batch: images per pass.
        size: image side in pixels.
        clock: ``time.perf_counter`` (wall time) or ``time.process_time`` (this process's CPU time, all
            threads: less sensitive to other jobs on a shared machine; compare with a child's CPU time).

    Returns:
        Seconds (float) of one pass: ``model(X)`` then ``scores.sum().backward()`` for ``X`` of shape
        ``(batch, 3, size, size)``, float32.
    """
    from course_utils.models import load_model

    model = load_model(device)
    dev = next(model.parameters()).device
    X = torch.randn(batch, 3, size, size, device=dev)

    def one() -> float:
        x = X.clone().requires_grad_(True)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        start = clock()
        model(x).sum().backward()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        return clock() - start

    for _ in range(2):
        one()
    return statistics.median(one() for _ in range(repeats))


def format_budget(wall_s: float, unit_s: float, budget_units: float) -> str:
    """``"93.1 s = 412 units (fwd+bwd 0.226 s), budget 450 units: OK"``."""
    units = wall_s / unit_s
    verdict = "OK" if units <= budget_units else "OVER BUDGET"
    return (
        f"{wall_s:.1f} s = {units:.0f} units (fwd+bwd {unit_s:.3f} s), budget {budget_units:.0f} units: "
        f"{verdict}"
    )
