"""Execute a solution notebook with nbclient and print its time per part, in seconds and machine-speed units.

Shared by bench_network_visualization.py and bench_attribution.py. The unit is one forward+backward pass of
the course model (batch 5, 224 px; :mod:`reference_unit`), measured just before and just after the notebook
(their mean is the unit; two different numbers mean the machine's load changed during the run). The kernel's
CPU time is printed as well, divided by the unit's CPU time: on a machine shared with other jobs it is the
steadier figure (with ``OMP_NUM_THREADS=1`` it is the wall time the notebook would take alone). Progress bars
are hidden (COURSE_PROGRESS=0); cells that raise are listed (none should).
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from reference_unit import format_budget, fwd_bwd_seconds

__all__ = ["bench_notebook", "write_executed"]


def write_executed(nb: nbformat.NotebookNode, path: Path) -> None:
    """Write the executed notebook ``nb`` to ``path`` without nbclient's timestamps (they would make
    every run a diff)."""
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nbformat.write(nb, path)
    print(f"wrote {path}")


def _part_of(cell_id: str, parts: Mapping[str, str]) -> str:
    """Name of the notebook part a cell id belongs to (first matching prefix; the rest is "setup")."""
    return next((part for prefix, part in parts.items() if cell_id.startswith(prefix)), "setup")


def bench_notebook(
    notebook: Path, parts: Mapping[str, str], budget_units: float, description: str, timeout: int = 900
) -> None:
    """Parse ``--device`` and ``--write``, execute ``notebook``, print the timings and write it back if asked.

    Args:
        notebook: the solution notebook.
        parts: cell id prefix -> part of the notebook it belongs to (first match wins; the rest is "setup").
        budget_units: the whole notebook's budget (kernel start included), in units.
        description: the script's ``--help`` text.
        timeout: seconds one cell may take.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--device", default=None, help="sets COURSE_DEVICE (default: automatic)")
    parser.add_argument("--write", action="store_true", help="write the executed notebook back in place")
    args = parser.parse_args()
    os.environ["COURSE_PROGRESS"] = "0"
    if args.device:
        os.environ["COURSE_DEVICE"] = args.device

    unit_before = fwd_bwd_seconds(args.device)
    cpu_unit = fwd_bwd_seconds(args.device, clock=time.process_time)
    nb = nbformat.read(notebook, as_version=4)
    started: dict[str, float] = {}
    per_cell: dict[str, float] = {}

    def on_start(cell, cell_index):  # nbclient hook signature
        started[cell.id] = time.perf_counter()

    def on_done(cell, cell_index, execute_reply):
        per_cell[cell.id] = time.perf_counter() - started[cell.id]

    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(notebook.parent)}},
        on_cell_start=on_start,
        on_cell_executed=on_done,
    )
    start = time.perf_counter()
    client.execute()
    total = time.perf_counter() - start
    unit_after = fwd_bwd_seconds(args.device)
    unit = (unit_before + unit_after) / 2

    seconds_per_part: dict[str, float] = defaultdict(float)
    for cell_id, seconds in per_cell.items():
        seconds_per_part[_part_of(cell_id, parts)] += seconds
    print(f"{'part':<22}{'seconds':>8}{'units':>8}")
    for part in ("setup", *dict.fromkeys(parts.values())):
        print(f"{part:<22}{seconds_per_part[part]:>8.1f}{seconds_per_part[part] / unit:>8.0f}")
    print(f"{'cells total':<22}{sum(per_cell.values()):>8.1f}")
    print(f"{'wall (with kernel)':<22}{total:>8.1f}")
    print(f"fwd+bwd unit: {unit_before:.3f} s before, {unit_after:.3f} s after the notebook")
    print(f"{notebook.stem}: {format_budget(total, unit, budget_units)}")
    # The kernel is a child process, reaped when the client shuts it down.
    kernel = resource.getrusage(resource.RUSAGE_CHILDREN)
    kernel_cpu = kernel.ru_utime + kernel.ru_stime
    print(
        f"{'kernel CPU (user+sys)':<22}{kernel_cpu:>8.1f} s = {kernel_cpu / cpu_unit:.0f} units of CPU time "
        f"(fwd+bwd {cpu_unit:.3f} s CPU), budget {budget_units:.0f}"
    )
    slowest = sorted(per_cell.items(), key=lambda kv: -kv[1])[:5]
    print("slowest cells: " + ", ".join(f"{cell_id} {seconds:.1f}s" for cell_id, seconds in slowest))
    raised = [
        cell.id
        for cell in nb.cells
        if cell.cell_type == "code" and any(o.get("output_type") == "error" for o in cell.get("outputs", []))
    ]
    if raised:
        print(f"cells that raised: {', '.join(raised)}")
    if args.write:
        write_executed(nb, notebook)
