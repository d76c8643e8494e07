"""Benchmark: execute solutions/NetworkVisualization.ipynb with nbclient; print seconds per part and total.

Absolute times differ between machines of the same nominal size, so the budget is a ratio: the wall time
divided by one forward+backward pass of the course model (batch 5, 224 px; :mod:`reference_unit`),
measured in the same run, just before and just after the notebook (the mean of the two is the unit, so
a change of machine load during the run shows as two different numbers). Budget: 450 units, the SmoothGrad
demo included. The absolute seconds are printed too. Progress bars are hidden (COURSE_PROGRESS=0) and the
executed notebook is not written back unless ``--write`` is given. The kernel inherits the environment, so
``OMP_NUM_THREADS=1`` pins both the kernel and the unit to one thread.

Usage: python bench/bench_network_visualization.py [--device cpu|cuda] [--write]
"""

from __future__ import annotations

from pathlib import Path

from notebook_bench import bench_notebook

NOTEBOOK = Path(__file__).resolve().parents[1] / "solutions" / "NetworkVisualization.ipynb"
#: Wall time of the whole notebook (kernel start included), in forward+backward passes of batch 5.
BUDGET_UNITS = 450.0
#: Seconds one cell may take.
TIMEOUT = 600

#: Cell id prefix -> part of the notebook it belongs to (first match wins; the rest is "setup").
PARTS = {
    "saliency": "saliency",
    "compute_saliency": "saliency",
    "test_compute_saliency": "saliency",
    "smoothgrad": "saliency",
    "fooling": "fooling",
    "make_fooling": "fooling",
    "test_make_fooling": "fooling",
    "classvis": "class visualization",
    "class_visualization": "class visualization",
    "test_class_visualization": "class visualization",
}


if __name__ == "__main__":
    bench_notebook(NOTEBOOK, PARTS, BUDGET_UNITS, __doc__, timeout=TIMEOUT)
