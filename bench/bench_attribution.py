"""Benchmark: execute solutions/Attribution.ipynb with nbclient; print seconds per part, total and units.

As for bench_network_visualization.py, the budget is a ratio: wall time divided by one forward+backward pass
of the course model (batch 5, 224 px; :mod:`reference_unit`), measured just before and just after the
notebook in the same run. Budget: 450 units, the NetworkVisualization budget. Progress bars are hidden
(COURSE_PROGRESS=0); the executed notebook is written back only with ``--write``. ``OMP_NUM_THREADS=1``
pins the kernel and the unit to one thread.

No cell may raise; the benchmark lists any that did.

Usage: python bench/bench_attribution.py [--device cpu|cuda] [--write]
"""

from __future__ import annotations

from pathlib import Path

from notebook_bench import bench_notebook

NOTEBOOK = Path(__file__).resolve().parents[1] / "solutions" / "Attribution.ipynb"
#: Wall time of the whole notebook (kernel start included), in forward+backward passes of batch 5.
BUDGET_UNITS = 450.0
#: Seconds one cell may take.
TIMEOUT = 900

#: Cell id prefix -> part of the notebook it belongs to (first match wins; the rest is "setup").
PARTS = {
    "integrated_gradients": "integrated gradients",
    "test_integrated_gradients": "integrated gradients",
    "completeness": "integrated gradients",
    "path": "integrated gradients",
    "grad_cam": "grad-cam",
    "test_grad_cam": "grad-cam",
    "gradcam": "grad-cam",
    "side-by-side": "side by side",
    "rank_correlation": "sanity check",
    "test_rank_correlation": "sanity check",
    "sanity": "sanity check",
    "deletion": "deletion curves",
}


if __name__ == "__main__":
    bench_notebook(NOTEBOOK, PARTS, BUDGET_UNITS, __doc__, timeout=TIMEOUT)
