"""Time the Style Transfer solution notebook in machine-speed units: seconds per part, total, budget.

Measures the reference unit (one forward+backward pass of the course model, batch 5 at 224 px,
:func:`reference_unit.fwd_bwd_seconds`) just before and just after the notebook (the mean of the two is
the unit, as in ``bench_network_visualization.py``; two different numbers show a change of machine
load during the run), executes ``solutions/StyleTransfer.ipynb`` cell by cell in a
fresh kernel with nbclient, sums the wall-clock time of the cells under each ``## `` heading and prints
the total in seconds and in units against the budget. Optionally, in the same kernel, it times one
200-step ``style_transfer`` at ``--big-size`` pixels (on the device ``get_device()`` picks: a GPU when
there is one). The executed notebook is written back only with ``--write``.

Usage::

    COURSE_DATA_DIR=/path/to/data python bench/bench_style_transfer.py [--big-size 512] [--skip-big] [--write]

Budget: the whole notebook within 500 units (issue 13), whatever the machine.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import OrderedDict
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from notebook_bench import write_executed  # bench/ is on sys.path when run as a script
from reference_unit import format_budget, fwd_bwd_seconds

NOTEBOOK = Path(__file__).resolve().parents[1] / "solutions" / "StyleTransfer.ipynb"
BUDGET_UNITS = 500.0

BIG_RUN = """
import time as _time
_task = replace(STYLE_PRESETS["composition_vii"], image_size={size}, style_size={size})
if torch.cuda.is_available():
    torch.cuda.synchronize()
_start = _time.perf_counter()
_result = style_transfer(model, losses, _task, Optimization(num_iters=200))
if torch.cuda.is_available():
    torch.cuda.synchronize()
print(f"BIG {{_time.perf_counter() - _start:.2f}} {{tuple(_result.image.shape)}} {{device}}")
"""


def _part_name(cell: nbformat.NotebookNode, current: str) -> str:
    if cell.cell_type == "markdown":
        for line in cell.source.splitlines():
            if line.startswith("## ") or line.startswith("# "):
                return line.lstrip("#").strip()
    return current


def main() -> None:
    """Measure the unit, execute the notebook, print seconds per part, total, units and the big run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big-size", type=int, default=512, help="image and style size of the timed run")
    parser.add_argument("--skip-big", action="store_true", help="do not time the large run")
    parser.add_argument("--write", action="store_true", help="write the executed notebook back in place")
    args = parser.parse_args()

    os.environ.setdefault("COURSE_PROGRESS", "0")
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    unit_before = fwd_bwd_seconds()
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    )

    parts: OrderedDict[str, float] = OrderedDict()
    part = "setup"
    total = 0.0
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            part = _part_name(cell, part)
            if cell.cell_type != "code":
                continue
            start = time.perf_counter()
            client.execute_cell(cell, index)
            elapsed = time.perf_counter() - start
            parts[part] = parts.get(part, 0.0) + elapsed
            total += elapsed
        unit_after = fwd_bwd_seconds()
        unit = (unit_before + unit_after) / 2
        for name, seconds in parts.items():
            print(f"{seconds:8.1f} s  {seconds / unit:6.0f} units  {name}")
        print(f"fwd+bwd unit: {unit_before:.3f} s before, {unit_after:.3f} s after the notebook")
        print(f"StyleTransfer: {format_budget(total, unit, BUDGET_UNITS)}")
        if args.write:
            write_executed(nb, NOTEBOOK)

        if not args.skip_big:
            cell = nbformat.v4.new_code_cell(BIG_RUN.format(size=args.big_size))
            nb.cells.append(cell)
            client.execute_cell(cell, len(nb.cells) - 1)
            text = "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
            line = next((x for x in text.splitlines() if x.startswith("BIG ")), None)
            if line is None:
                raise RuntimeError(f"the large run printed no timing; its output was:\n{text}")
            _, seconds, *rest = line.split(" ", 2)
            print(f"{float(seconds):8.1f} s  one 200-step style transfer at {args.big_size} px {rest[0]}")


if __name__ == "__main__":
    main()
