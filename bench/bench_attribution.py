"""Benchmark: execute solutions/Attribution.ipynb with nbclient; print seconds per part, total and units.

As for bench_network_visualization.py, the budget is a ratio: wall time divided by one forward+backward pass
of the course model (batch 5, 224 px; :mod:`reference_unit`), measured just before and just after the
notebook in the same run. Budget: 450 units, the NetworkVisualization budget. Progress bars are hidden
(COURSE_PROGRESS=0); the executed notebook is written back only with ``--write``. ``OMP_NUM_THREADS=1``
pins the kernel and the unit to one thread.

Until the notebook's functions are registered with the autograder, their self-check cells raise ``KeyError``;
those cells carry nbformat's ``raises-exception`` tag (which nbclient and nbval honour), no other cell may
fail, and the benchmark lists the cells that raised.

Usage: python bench/bench_attribution.py [--device cpu|cuda] [--write]
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from collections import defaultdict
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from reference_unit import format_budget, fwd_bwd_seconds

NOTEBOOK = Path(__file__).resolve().parents[1] / "solutions" / "Attribution.ipynb"
#: Wall time of the whole notebook (kernel start included), in forward+backward passes of batch 5.
BUDGET_UNITS = 450.0

#: Cell id prefix -> part of the notebook it belongs to (first match wins; the rest is "setup").
PARTS = {
    "integrated_gradients": "integrated gradients",
    "test_integrated_gradients": "integrated gradients",
    "completeness": "integrated gradients",
    "grad_cam": "grad-cam",
    "test_grad_cam": "grad-cam",
    "gradcam": "grad-cam",
    "side-by-side": "side by side",
    "rank_correlation": "sanity check",
    "test_rank_correlation": "sanity check",
    "sanity": "sanity check",
    "deletion": "deletion curves",
}


def part_of(cell_id: str) -> str:
    """Name of the notebook part a cell id belongs to."""
    for prefix, part in PARTS.items():
        if cell_id.startswith(prefix):
            return part
    return "setup"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default=None, help="sets COURSE_DEVICE (default: automatic)")
    parser.add_argument("--write", action="store_true", help="write the executed notebook back in place")
    args = parser.parse_args()
    os.environ["COURSE_PROGRESS"] = "0"
    if args.device:
        os.environ["COURSE_DEVICE"] = args.device

    unit_before = fwd_bwd_seconds(args.device)
    cpu_unit = fwd_bwd_seconds(args.device, clock=time.process_time)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    started: dict[str, float] = {}
    per_cell: dict[str, float] = {}

    def on_start(cell, cell_index):  # nbclient hook signature
        started[cell.id] = time.perf_counter()

    def on_done(cell, cell_index, execute_reply):
        per_cell[cell.id] = time.perf_counter() - started[cell.id]

    client = NotebookClient(
        nb,
        timeout=900,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
        on_cell_start=on_start,
        on_cell_executed=on_done,
    )
    start = time.perf_counter()
    client.execute()
    total = time.perf_counter() - start
    unit_after = fwd_bwd_seconds(args.device)
    unit = (unit_before + unit_after) / 2

    parts: dict[str, float] = defaultdict(float)
    for cell_id, seconds in per_cell.items():
        parts[part_of(cell_id)] += seconds
    print(f"{'part':<22}{'seconds':>8}{'units':>8}")
    for part in ("setup", *dict.fromkeys(PARTS.values())):
        print(f"{part:<22}{parts[part]:>8.1f}{parts[part] / unit:>8.0f}")
    print(f"{'cells total':<22}{sum(per_cell.values()):>8.1f}")
    print(f"{'wall (with kernel)':<22}{total:>8.1f}")
    print(f"fwd+bwd unit: {unit_before:.3f} s before, {unit_after:.3f} s after the notebook")
    print(f"Attribution: {format_budget(total, unit, BUDGET_UNITS)}")
    kernel = resource.getrusage(resource.RUSAGE_CHILDREN)
    kernel_cpu = kernel.ru_utime + kernel.ru_stime
    # CPU time is less sensitive to other jobs sharing the machine than wall time: with OMP_NUM_THREADS=1 it
    # is the wall time the notebook would take alone, and the unit's CPU time is measured the same way.
    print(
        f"{'kernel CPU (user+sys)':<22}{kernel_cpu:>8.1f} s = {kernel_cpu / cpu_unit:.0f} units of CPU time "
        f"(fwd+bwd {cpu_unit:.3f} s CPU)"
    )
    slowest = sorted(per_cell.items(), key=lambda kv: -kv[1])[:5]
    print("slowest cells: " + ", ".join(f"{cell_id} {seconds:.1f}s" for cell_id, seconds in slowest))
    errors = [
        cell.id
        for cell in nb.cells
        if cell.cell_type == "code" and any(o.get("output_type") == "error" for o in cell.get("outputs", []))
    ]
    if errors:
        print(f"cells that raised (allowed by their raises-exception tag): {', '.join(errors)}")
    if args.write:
        for cell in nb.cells:  # nbclient's timestamps would make every run a diff
            cell.metadata.pop("execution", None)
        nbformat.write(nb, NOTEBOOK)
        print(f"wrote {NOTEBOOK}")


if __name__ == "__main__":
    main()
