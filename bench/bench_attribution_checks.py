"""Numbers behind docs/attribution-checks.md: the proposed check inputs, noise, mistakes' distances, time.

For each graded function of solutions/Attribution.ipynb (integrated_gradients, grad_cam, rank_correlation),
this builds the inputs proposed for its check (public seed 0 and a few hidden-like seeds), runs the solution
and every named mistake (the text edits stored in the solution cell's ``metadata.autograder.edits``,
applied to the cell's source) and prints:

* the noise of correct answers: 1 vs 2 threads, one image at a time vs batched (and, for IG, all path points
  in one batch), the result stored in a float32 buffer;
* each mistake's relative error to the solution (the comparison the check uses), and the smallest distance
  between two mistakes, so the tolerance and the matching threshold can be read off;
* how each non-output mistake is recognized (an error message, hooks left on the model);
* the time of one call on a warm float64 model (what grading adds per submission).

Everything runs the course's own notebook code in this process (trusted); nothing here is a student's.

Usage: python bench/bench_attribution_checks.py [--seeds 0 1 2 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from reference_unit import fwd_bwd_seconds
from scipy.stats import spearmanr

from autograder.checks.compare import norm_rel_error, rel_error
from course_utils.models import load_model

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout, for tests.helpers
from tests.helpers.attribution import (
    GRADED,
    attribution_namespace,
    call_with_fresh_model,
    check_inputs,
    mistake_versions,
    solution_notebook,
)


def solution_and_mistakes() -> tuple[dict[str, Callable], dict[str, dict[str, Callable]]]:
    """The solution's functions, and per function each mistake's version (by mistake id)."""
    nb = solution_notebook()
    solution = attribution_namespace(nb)
    return {f: solution[f] for f in GRADED}, mistake_versions(nb)


def with_threads(n: int, fn: Callable[[], Any]) -> Any:
    """``fn()`` with torch limited to ``n`` threads."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        return fn()
    finally:
        torch.set_num_threads(before)


def tie_break_spread(a: torch.Tensor, b: torch.Tensor, reference: torch.Tensor, draws: int = 50) -> str:
    """Spearman with ties broken at random (distinct ranks, like an unstable argsort), ``draws`` times:
    the range per pair, and the smallest elementwise rel_error to the tie-averaged reference."""
    rng = np.random.default_rng(0)
    values = []
    for _ in range(draws):
        jitter = [rng.uniform(0, 1e-6, a.shape[1:]) for _ in range(2)]  # far below the 0.25 steps
        values.append(
            [
                spearmanr(
                    x.numpy().ravel() + jitter[0].ravel(), z.numpy().ravel() + jitter[1].ravel()
                ).statistic
                for x, z in zip(a, b, strict=True)
            ]
        )
    values = np.array(values)  # (draws, N)
    closest = min(rel_error(torch.tensor(v), reference) for v in values)
    ranges = ", ".join(f"[{lo:.3f}, {hi:.3f}]" for lo, hi in zip(values.min(0), values.max(0), strict=True))
    return f"ties broken at random ({draws} draws): rho per pair in {ranges}; closest rel_error {closest:.2e}"


def scale_free(x: torch.Tensor) -> torch.Tensor:
    """Each image's output divided by its own norm: equal for outputs that differ by a positive scale."""
    flat = x.flatten(1)
    return flat / flat.norm(dim=1, keepdim=True).clamp_min(1e-300)


def distance_table(
    reference: torch.Tensor,
    outputs: dict[str, Any],
    errors: dict[str, str],
    hooks: dict[str, int],
    error: Callable,
) -> None:
    """Print each mistake's distance to the reference (plain and per-image scale-free) and how it shows."""
    print(f"  {'mistake':<30}{'rel_error':>11}{'scale-free':>12}  recognized by")
    for name, out in outputs.items():
        if out is None:
            print(f"  {name:<30}{'-':>11}{'-':>12}  error: {errors[name][:70]}")
            continue
        if out.shape != reference.shape:
            shapes = f"shape {tuple(out.shape)} (expected {tuple(reference.shape)})"
            print(f"  {name:<30}{'-':>11}{'-':>12}  {shapes}")
            continue
        d = error(out, reference)
        free = norm_rel_error(scale_free(out), scale_free(reference)) if out.dim() > 1 else float("nan")
        how = f"hooks left: {hooks[name]}" if hooks.get(name) else "output"
        print(f"  {name:<30}{d:>11.2e}{free:>12.2e}  {how}")
    same_shape = {k: v for k, v in outputs.items() if v is not None and v.shape == reference.shape}
    pairs = [
        (error(same_shape[a], same_shape[b]), a, b)
        for i, a in enumerate(same_shape)
        for b in list(same_shape)[i + 1 :]
        if error(same_shape[a], reference) > 1e-6 and error(same_shape[b], reference) > 1e-6
    ]
    if pairs:
        d, a, b = min(pairs)
        print(f"  closest two mistakes: {a} / {b}: {d:.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--time-only", action="store_true", help="only the time of the calls")
    args = parser.parse_args()
    solution, mistakes = solution_and_mistakes()
    model64 = load_model("cpu").double()
    comparisons = {
        "integrated_gradients": norm_rel_error,
        "grad_cam": norm_rel_error,
        "rank_correlation": rel_error,
    }
    for function in () if args.time_only else GRADED:
        model = model64 if function != "rank_correlation" else None
        error = comparisons[function]
        solve = partial(call_with_fresh_model, solution[function], model=model)
        print(f"\n=== {function} ({error.__name__}) ===")
        for seed in args.seeds:
            call = check_inputs(function, seed)
            reference = with_threads(1, partial(solve, call))[0]
            noise = {"2 threads": with_threads(2, partial(solve, call))[0]}
            n = len(call[1]) if function != "rank_correlation" else len(call[0])
            one = [tuple(a[i : i + 1] if isinstance(a, torch.Tensor) else a for a in call) for i in range(n)]
            noise["one at a time"] = torch.cat([solve(c)[0] for c in one])
            if function == "rank_correlation":
                noise["computed in float32"] = solve(tuple(a.float() for a in call))[0]
            noise["float32 buffer"] = reference.float()
            described = ", ".join(f"{k} {error(v, reference):.1e}" for k, v in noise.items())
            print(f" seed {seed}: noise of correct answers: {described}")
            outputs, errors, hooks = {}, {}, {}
            for name, fn in mistakes[function].items():
                outputs[name], errors[name], hooks[name] = call_with_fresh_model(fn, call, model)
            distance_table(reference, outputs, errors, hooks, error)
            if function == "rank_correlation":
                print(
                    f"  reference rho {[round(v, 3) for v in reference.tolist()]}; "
                    + tie_break_spread(*call, reference)
                )
    print(
        "\none call of the solution on the public inputs, fresh model copy included (median of 5), in units"
    )
    print("of one fwd+bwd pass (batch 5, 224 px) measured with the same thread count before and after:")
    for threads in (1, 2):
        unit_before = with_threads(threads, partial(fwd_bwd_seconds, "cpu"))
        timings = {}
        for function in GRADED:
            model = model64 if function != "rank_correlation" else None
            solve = partial(call_with_fresh_model, solution[function], check_inputs(function, 0), model)
            timings[function] = statistics.median(
                with_threads(threads, partial(_timed, solve)) for _ in range(5)
            )
        unit_after = with_threads(threads, partial(fwd_bwd_seconds, "cpu"))
        unit = (unit_before + unit_after) / 2
        total = sum(timings.values())
        cells = ", ".join(f"{f} {t:.3f} s = {t / unit:.2f}" for f, t in timings.items())
        print(
            f" {threads} thread(s): {cells}; all three {total:.3f} s = {total / unit:.2f} units "
            f"(unit {unit_before:.3f} s before, {unit_after:.3f} s after)"
        )


def _timed(solve: Callable[[], Any]) -> float:
    start = time.perf_counter()
    solve()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
