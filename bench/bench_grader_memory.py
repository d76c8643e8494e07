"""Memory of grading: one submission with every notebook as a whole, and the grader's own peak as
hostile inputs grow to the caps.

**Grading one submission** (``--part grading``): every solution notebook, hidden references (the
public file stands in), full isolation, run as ``python -m autograder grade`` in a fresh memory
cgroup with a CPU quota (``--cpus``, default 0.5: Gradescope's default). Prints, in one run and
measured the same way: a bare ``import torch`` (its resident size, the budget's unit), then the
grader of ``--before REV`` (the process model before: a template process that imports torch
again) and this checkout: wall time, the cgroup's peak, the peak of the summed PSS of every
process of the run (each shared page counted once: the figure the budget is checked on, against
the bare import's RSS + 300 MiB), each process at that moment and each process's own peak RSS.
The page cache is warmed by an unmeasured run first, so the cgroup's peak counts anonymous memory
and little else; PSS counts the mapped files too. ``--workers-scan N`` then grades N submissions
with 1 and with 2 workers: the memory one more worker costs (``--workers auto`` uses it) and the
throughput. Needs root (cgroups); without, the cgroup columns are skipped.

**Hostile inputs** (``--part inputs``): for each kind of input and size, the seconds and the peak
resident memory (``ru_maxrss``) of a process that does the grader's part for one submission, above
a process that does nothing: reading (and for zips, streaming) the file, extracting the code, and
decoding a forged result. Each measurement runs in a fresh fork of this process (torch imported),
so one cannot hide another. Student code never runs here; what student processes use is bounded by
``Limits`` instead.

Run: ``python bench/bench_grader_memory.py [--part grading|inputs|all] [--before REV] [--cpus 0.5]
[--workers-scan N] [--quick]``. Inputs:

* ``long import line``: one cell ``import os;`` repeated (60 kB once cost +684 MB), up to
  ``InputCaps.cell_source_chars`` and past it (skipped);
* ``many cells``: up to ``InputCaps.cells`` and past it (refused);
* ``deep forged result``: a result file of nested shared lists, depth 4 to 16 (1.5 kB once cost
  74 s and +2.35 GB), decoded by :func:`autograder.isolation.control.decode_result`;
* ``zip bomb``: zipped zeros that unpack to 16 MB ... 1 GB, streamed under ``InputCaps`` caps;
* ``outputs``: a notebook whose outputs fill 8 ... 128 MB (refused past ``notebook_bytes``; the one
  input whose cost grows, linearly, up to its cap).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import sys
import tempfile
import time
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import torch

from autograder.course import NOTEBOOKS
from autograder.grading.submission import discover_submissions
from autograder.isolation.control import decode_result
from autograder.notebook_io.extraction import extract_student_code
from autograder.settings import InputCaps, TextCaps

CAPS = InputCaps()


def _measure(work: Callable[[], str]) -> tuple[float, float, str]:
    """Run ``work`` in a fork; its seconds, peak RSS in MiB and what it said."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        start = time.perf_counter()
        try:
            said = work()
        except Exception as exc:
            said = f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - start
        os.write(w, json.dumps([seconds, said[:80]]).encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        seconds, said = json.loads(f.read())
    _, _, usage = os.wait4(pid, 0)
    return seconds, usage.ru_maxrss / 1024, said


def _notebook_file(folder: Path, cells: list[dict], name: str = "StyleTransfer.ipynb") -> Path:
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}
    path = folder / name
    path.write_text(json.dumps(nb))
    return path


def _code(source: str, outputs: list | None = None) -> dict:
    return {
        "cell_type": "code",
        "metadata": {},
        "source": source,
        "outputs": outputs or [],
        "execution_count": None,
    }


def _grade_side(path: Path) -> Callable[[], str]:
    def work() -> str:
        subs = discover_submissions(path, CAPS)
        n_chunks = 0
        for sub in subs:
            if sub.notebook is not None:
                n_chunks += len(extract_student_code(sub.notebook)[0])
        problems = [p for s in subs for p in s.problems]
        return f"{n_chunks} chunks; " + (problems[-1] if problems else "no problem")

    return work


def _forged(depth: int) -> Callable[[], str]:
    value: list = []
    for _ in range(depth):
        value = [value, value, value, value]
    buffer = io.BytesIO()
    torch.save({"status": "ok", "value": value}, buffer)
    data = buffer.getvalue()

    def work() -> str:
        outcome = decode_result("gram_matrix", data, TextCaps())
        return f"{len(data)} B file -> {outcome.status}: {outcome.message[-50:]}"

    return work


def _zip_bomb(folder: Path, mb: int) -> Path:
    path = folder / f"bomb{mb}.zip"
    zeros = b" " * 2**20
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z,
        z.open("StyleTransfer.ipynb", "w", force_zip64=True) as f,
    ):
        for _ in range(mb):
            f.write(zeros)
    return path


BEFORE = "e0d1a83"  # the last commit whose grader started its template with a second `import torch`


def _grading(args: argparse.Namespace) -> None:
    """One submission with every notebook, before and after, and the cost of one more worker."""
    import shutil

    from grading_run import MIB, REPO, bare_torch, describe, grade_in_group, revision_python

    from autograder.settings import PUBLIC_REFERENCES

    print(f"load average: {os.getloadavg()[0]:.1f} (2 cores shared with other jobs: times are noisy)")
    with tempfile.TemporaryDirectory(prefix="bench-grading-memory-", dir=REPO / ".cache") as tmp:
        root = Path(tmp)
        hidden = root / "hidden.pt"
        shutil.copy(PUBLIC_REFERENCES, hidden)
        subs = root / "submission"
        subs.mkdir()
        for name in NOTEBOOKS:
            shutil.copy(REPO / "solutions" / f"{name}.ipynb", subs / f"{name}.ipynb")
        here = Path(sys.executable)
        grade_in_group(here, subs, root / "warm", hidden, None)  # page cache warm, unmeasured
        bare = bare_torch()
        budget = bare.rss + 300 * MIB
        print(
            f"bare `import torch`: RSS {bare.rss / MIB:.0f} MiB; in a cgroup: peak {_mib(bare.cgroup_peak)}, "
            f"anonymous+tmpfs {_mib(bare.unreclaimable)}. Budget (issue 23): cgroup peak <= RSS + 300 MiB = "
            f"{budget / MIB:.0f} MiB"
        )
        versions = [(f"before ({args.before})", revision_python(args.before, root))] if args.before else []
        versions.append(("after (this checkout)", here))
        for label, python in versions:
            run = grade_in_group(python, subs, root / label.split()[0], hidden, args.cpus)
            scores = [line for line in run.output.splitlines() if "/1" in line]
            verdict = "-" if run.cgroup_peak is None else "OK" if run.cgroup_peak <= budget else "OVER BUDGET"
            extra = (
                f"{(run.unreclaimable_peak - bare.unreclaimable) / MIB:+.0f} MiB"
                if run.unreclaimable_peak is not None and bare.unreclaimable is not None
                else "-"
            )
            print(
                f"{label}: {run.seconds:.1f} s at {args.cpus or 'no'} CPU quota, exit {run.returncode}, OOM "
                f"kills {run.oom_kills}\n  cgroup peak {_mib(run.cgroup_peak)} (bare RSS "
                f"{(run.cgroup_peak or 0) / MIB - bare.rss / MIB:+.0f}): {verdict}; anonymous+tmpfs peak "
                f"{_mib(run.unreclaimable_peak)} (bare import {extra}); summed PSS peak "
                f"{run.pss_peak / MIB:.0f} MiB (bare RSS {(run.pss_peak - bare.rss) / MIB:+.0f})"
            )
            print("  scores: " + " | ".join(" ".join(line.split()) for line in scores))
            print("\n".join(describe(run)), flush=True)
        if args.workers_scan:
            _workers_scan(args.workers_scan, root, hidden)


def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value / 2**20:.0f} MiB"


def _workers_scan(count: int, root: Path, hidden: Path) -> None:
    """Grade ``count`` submissions (every notebook each) with 1 and 2 workers: memory and time."""
    import shutil

    from grading_run import MIB, REPO, grade_in_group

    batch = root / "batch"
    for i in range(count):
        for name in NOTEBOOKS:
            folder = batch / f"student{i:03d}" / name
            folder.mkdir(parents=True)
            shutil.copy(REPO / "solutions" / f"{name}.ipynb", folder / f"{name}.ipynb")
    peaks: dict[int, int] = {}
    for workers in (1, 2):
        run = grade_in_group(Path(sys.executable), batch, root / f"batch-{workers}", hidden, None, workers)
        peaks[workers] = run.unreclaimable_peak or run.pss_peak
        print(
            f"batch of {count} students x {len(NOTEBOOKS)} notebooks, {workers} worker(s), no CPU quota: "
            f"{run.seconds:.1f} s ({run.seconds / (len(NOTEBOOKS) * count):.2f} s per notebook), "
            f"summed PSS peak {run.pss_peak / MIB:.0f} MiB, cgroup peak {_mib(run.cgroup_peak)}, "
            f"anonymous+tmpfs peak {_mib(run.unreclaimable_peak)}",
            flush=True,
        )
    print(f"one more worker costs {(peaks[2] - peaks[1]) / MIB:.0f} MiB (anonymous+tmpfs peak)")


def _inputs(args: argparse.Namespace) -> None:
    """The grader's own peak per hostile input, as before."""
    warnings.simplefilter("ignore")  # nbformat's missing-cell-id warning on the generated notebooks
    base = _measure(lambda: "idle")[1]
    print(f"baseline (a forked grader doing nothing): {base:.0f} MiB peak RSS")
    print(f"{'input':22s} {'size':>14s} {'seconds':>8s} {'peak +MiB':>9s}  result")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows: list[tuple[str, str, Callable[[], str]]] = []
        reps = [1_000, 6_000, 30_000, 99_000, 200_000][: 3 if args.quick else 5]
        for n in reps:
            d = folder / f"imports{n}"
            d.mkdir()
            rows.append(
                (
                    "long import line",
                    f"{10 * n / 1000:.0f} kB",
                    _grade_side(_notebook_file(d, [_code("import os;" * n)])),
                )
            )
        for n in [100, 1_000, 5_000, 6_000][: 2 if args.quick else 4]:
            d = folder / f"cells{n}"
            d.mkdir()
            cells = [_code(f"def f{i}(x):\n    return x + {i}") for i in range(n)]
            rows.append(("many cells", f"{n} cells", _grade_side(_notebook_file(d, cells))))
        for depth in [4, 8, 12, 16][: 2 if args.quick else 4]:
            rows.append(("deep forged result", f"depth {depth}", _forged(depth)))
        for mb in [16, 64, 256, 1024][: 2 if args.quick else 4]:
            d = folder / f"zip{mb}"
            d.mkdir()
            rows.append(("zip bomb", f"{mb} MB unpacked", _grade_side(_zip_bomb(d, mb))))
        for mb in [8, 32, 128][: 1 if args.quick else 3]:
            d = folder / f"out{mb}"
            d.mkdir()
            text = "x" * 2**20
            outputs = [{"output_type": "stream", "name": "stdout", "text": text} for _ in range(mb)]
            rows.append(
                ("outputs", f"{mb} MB", _grade_side(_notebook_file(d, [_code("import os", outputs)])))
            )
        for kind, size, work in rows:
            seconds, peak, said = _measure(work)
            print(f"{kind:22s} {size:>14s} {seconds:8.2f} {peak - base:9.0f}  {said}", flush=True)
    print(f"(caps: {CAPS})")
    print(f"this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB peak RSS")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("grading", "inputs", "all"), default="all")
    parser.add_argument(
        "--before", default=BEFORE, help=f"git revision to compare with (default {BEFORE}; '' none)"
    )
    parser.add_argument("--cpus", type=float, default=0.5, help="CPU quota of the grading runs (default 0.5)")
    parser.add_argument(
        "--workers-scan", type=int, default=0, metavar="N", help="also grade N students with 1, 2 workers"
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes only (hostile inputs)")
    args = parser.parse_args()
    if args.part in ("grading", "all"):
        _grading(args)
    if args.part in ("inputs", "all"):
        _inputs(args)


if __name__ == "__main__":
    main()
