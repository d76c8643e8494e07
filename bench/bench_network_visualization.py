"""Benchmark: execute solutions/NetworkVisualization.ipynb with nbclient; print seconds per part and total.

The notebook must run in at most 90 s on a 2-core CPU. Progress bars are hidden (COURSE_PROGRESS=0)
and the executed notebook is not written back unless ``--write`` is given.
Usage: python bench/bench_network_visualization.py [--device cpu|cuda] [--write]
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

NOTEBOOK = Path(__file__).resolve().parents[1] / "solutions" / "NetworkVisualization.ipynb"
BUDGET_S = 90.0

#: Cell id prefix -> part of the notebook it belongs to (first match wins; the rest is "setup").
PARTS = {
    "saliency": "saliency",
    "compute_saliency": "saliency",
    "test_compute_saliency": "saliency",
    "fooling": "fooling",
    "score-recorder": "fooling",
    "make_fooling": "fooling",
    "test_make_fooling": "fooling",
    "classvis": "class visualization",
    "class_visualization": "class visualization",
    "test_class_visualization": "class visualization",
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

    nb = nbformat.read(NOTEBOOK, as_version=4)
    started: dict[str, float] = {}
    per_cell: dict[str, float] = {}

    def on_start(cell, cell_index):  # nbclient hook signature
        started[cell.id] = time.perf_counter()

    def on_done(cell, cell_index, execute_reply):
        per_cell[cell.id] = time.perf_counter() - started[cell.id]

    client = NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
        on_cell_start=on_start,
        on_cell_executed=on_done,
    )
    start = time.perf_counter()
    client.execute()
    total = time.perf_counter() - start

    parts: dict[str, float] = defaultdict(float)
    for cell_id, seconds in per_cell.items():
        parts[part_of(cell_id)] += seconds
    print(f"{'part':<22}{'seconds':>8}")
    for part in ("setup", "saliency", "fooling", "class visualization"):
        print(f"{part:<22}{parts[part]:>8.1f}")
    print(f"{'cells total':<22}{sum(per_cell.values()):>8.1f}")
    print(f"{'wall (with kernel)':<22}{total:>8.1f}   budget {BUDGET_S:.0f} s")
    # The kernel is a child process, reaped when the client shuts it down: its CPU time is a
    # load-independent figure when other jobs share the machine (wall time then overstates).
    kernel_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"{'kernel CPU (user+sys)':<22}{kernel_cpu.ru_utime + kernel_cpu.ru_stime:>8.1f}")
    slowest = sorted(per_cell.items(), key=lambda kv: -kv[1])[:5]
    print("slowest cells: " + ", ".join(f"{cell_id} {seconds:.1f}s" for cell_id, seconds in slowest))
    if args.write:
        for cell in nb.cells:  # nbclient's timestamps would make every run a diff
            cell.metadata.pop("execution", None)
        nbformat.write(nb, NOTEBOOK)
        print(f"wrote {NOTEBOOK}")


if __name__ == "__main__":
    main()
