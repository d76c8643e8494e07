"""Benchmark: build the class report (HTML + CSV) for 1,000 synthetic results; prints seconds.

Target (issue 12): under 10 s on 2 cores. The results are random but shaped like real ones: both
notebooks, every status, known mistakes with hints, error messages with varying numbers, call
times, fingerprints with clusters, a few unreadable and not-graded submissions.

    python bench/bench_report.py [--results 1000] [--out DIR]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from autograder.class_report import write_class_report
from autograder.class_report.stats import UNREADABLE_MESSAGE
from autograder.functions import FUNCTIONS
from autograder.grading.results import CheckResult, SubmissionResult

_MISTAKES = (
    "not normalized",
    "norm not squared",
    "weights ignored",
    "sum over channels",
    "no absolute value",
)
_STATUSES = ("passed",) * 12 + (
    "partial",
    "failed",
    "failed",
    "not_implemented",
    "error",
    "timeout",
    "memory",
)


def synthetic_results(count: int, seed: int = 0) -> list[SubmissionResult]:
    """``count`` random results, deterministic for a seed."""
    rng = random.Random(seed)
    results = []
    for i in range(count):
        assignment = "StyleTransfer" if i % 2 else "NetworkVisualization"
        functions = [c for c in FUNCTIONS.values() if c.notebook == assignment]
        if i % 97 == 5:
            checks = [
                CheckResult(c.name, "hidden", 0.0, c.points, "missing", UNREADABLE_MESSAGE) for c in functions
            ]
            results.append(
                SubmissionResult(f"student{i:04d}", assignment, 0.0, 11.0, checks, ["x.ipynb is empty"])
            )
            continue
        checks, fingerprints = [], {}
        for c in functions:
            status = rng.choice(_STATUSES)
            mistake = rng.choice(_MISTAKES) if status in ("partial", "failed") and rng.random() < 0.7 else ""
            fraction = {"passed": 1.0, "partial": 0.5}.get(status, 0.0)
            checks.append(
                CheckResult(
                    c.name, "hidden", c.points * fraction, c.points, status,
                    f"{c.name} raised an exception: RuntimeError: size {rng.randint(1, 64)} mismatch"
                    if status == "error" else "rel_error 1e-1 >= 1e-3",
                    hint="a hint" if mistake else "", rel_error=rng.random() if status == "failed" else None,
                    threshold=1e-3, mistake=mistake, seconds=rng.lognormvariate(-2, 1),
                )
            )  # fmt: skip
            fingerprints[c.name] = {"digest": f"{rng.randint(0, 40):016x}", "nodes": rng.randint(10, 200)}
        results.append(
            SubmissionResult(
                f"student{i:04d}",
                assignment,
                sum(ch.points for ch in checks),
                sum(c.points for c in functions),
                checks,
                seconds=rng.uniform(0.3, 3.0),
                fingerprints=fingerprints,
                grader_error="RuntimeError: template" if i % 211 == 7 else "",
            )
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=int, default=1000)
    parser.add_argument("--out", default=None, help="keep the report in this folder")
    args = parser.parse_args()
    results = synthetic_results(args.results)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="bench-report-"))
    out.mkdir(parents=True, exist_ok=True)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # imported once, as in the grader, outside the timing

    start, cpu = time.perf_counter(), time.process_time()
    paths = write_class_report(out, results, {})
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    size = paths["html"].stat().st_size / 1e6
    print(
        f"class report for {len(results)} results: {seconds:.2f} s wall, {cpu:.2f} s CPU "
        f"({size:.2f} MB HTML) -> {paths['html']}"
    )


if __name__ == "__main__":
    main()
