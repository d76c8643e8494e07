"""Time the Style Transfer solution notebook: seconds per part, the total, and one run at 512 px.

Executes ``solutions/StyleTransfer.ipynb`` cell by cell in a fresh kernel with nbclient (nothing is
written back), sums the wall-clock time of the cells under each ``## `` heading, then, in the same
kernel, times one 200-step ``style_transfer`` at ``--big-size`` pixels with the notebook's own driver
(on the device ``get_device()`` picks: a GPU when there is one).

Usage::

    COURSE_DATA_DIR=/path/to/data python bench/bench_style_transfer.py [--big-size 512] [--skip-big]

The budget for the whole notebook at 192 px is 150 s on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import OrderedDict
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "solutions" / "StyleTransfer.ipynb"
BUDGET_S = 150.0

BIG_RUN = """
import time as _time
_params = dict(params1, image_size={size}, style_size={size})
if torch.cuda.is_available():
    torch.cuda.synchronize()
_start = _time.perf_counter()
_img, _history = style_transfer(**_params, num_iters=200, show=False)
if torch.cuda.is_available():
    torch.cuda.synchronize()
print(f"BIG {{_time.perf_counter() - _start:.2f}} {{tuple(_img.shape)}} {{device}}")
"""


def _part_name(cell: nbformat.NotebookNode, current: str) -> str:
    if cell.cell_type == "markdown":
        for line in cell.source.splitlines():
            if line.startswith("## ") or line.startswith("# "):
                return line.lstrip("#").strip()
    return current


def main() -> None:
    """Execute the notebook, print the seconds per part, the total and the 512 px timing."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big-size", type=int, default=512, help="image and style size of the timed run")
    parser.add_argument("--skip-big", action="store_true", help="do not time the large run")
    args = parser.parse_args()

    os.environ.setdefault("COURSE_PROGRESS", "0")
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(nb, timeout=1200, kernel_name="python3", resources={"metadata": {"path": "."}})

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
        for name, seconds in parts.items():
            print(f"{seconds:8.1f} s  {name}")
        verdict = "within" if total <= BUDGET_S else "OVER"
        print(f"{total:8.1f} s  total ({verdict} the {BUDGET_S:.0f} s budget)")

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
