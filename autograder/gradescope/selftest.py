"""The self-test that ends ``setup.sh``: grade a stand-in upload under this container's real limits.

``python -m autograder gradescope-selftest --root /autograder`` lays a stand-in notebook for each
graded assignment into ``submission/``, runs the zip's ``run_autograder`` as Gradescope does, and
prints for the staff (the build output) the time, the peak memory of all its processes and this
container's memory limit and CPU quota; then it removes ``submission/`` and ``results/`` again.

The zip holds no solution, so the stand-ins are not one: each graded function does the work a
solution does (forward and backward passes of the course model on the check's own inputs; about as
many as a solution of ``make_fooling_image`` needs) and returns a wrong answer, so every function is
graded and scores nothing. A run that ends in a grader error (memory ran out, a broken image) fails
the self-test, with the reason.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import nbformat

from autograder.cgroups import cpu_quota, memory_limit, unreclaimable_memory
from autograder.course import NOTEBOOKS
from autograder.gradescope.config import RunConfig
from autograder.process_memory import PeakSampler

__all__ = ["STAND_INS", "run_selftest", "stand_in_notebook"]

_WORK = '''
import torch


def _forward_backward(model, X):
    """The passes a solution makes: forward, a scalar, backward to the input."""
    X = X.detach().clone().requires_grad_(True)
    model(X).pow(2).mean().backward()
    return X.grad
'''

#: Each notebook's stand-in code: a solution's work, a wrong answer.
STAND_INS = {
    "NetworkVisualization": _WORK
    + """

def compute_saliency_maps(X, y, model):
    _forward_backward(model, X)
    return torch.zeros(X.shape[0], X.shape[2], X.shape[3], dtype=X.dtype)


def make_fooling_image(X, target_y, model):
    for _ in range(10):
        _forward_backward(model, X)
    return X.clone()


def class_visualization_update_step(img, model, target_y, l2_reg, learning_rate):
    _forward_backward(model, img)
""",
    "StyleTransfer": """
import torch


def content_loss(content_weight, content_current, content_original):
    return content_current.sum() * 0


def gram_matrix(features, normalize=True):
    return torch.zeros(features.shape[0], features.shape[1], features.shape[1], dtype=features.dtype)


def style_loss(feats, style_layers, style_targets, style_weights):
    return feats[0].sum() * 0


def tv_loss(img, tv_weight):
    return img.sum() * 0
""",
    "Attribution": _WORK
    + """

def integrated_gradients(X, y, model, baseline, steps):
    for _ in range(steps):
        _forward_backward(model, X)
    return torch.zeros_like(X)


def grad_cam(X, y, model, layer):
    _forward_backward(model, X)
    return torch.zeros(X.shape[0], X.shape[2], X.shape[3], dtype=X.dtype)


def rank_correlation(a, b):
    return torch.zeros(a.shape[0], dtype=a.dtype)
""",
}


def stand_in_notebook(assignment: str) -> nbformat.NotebookNode:
    """The stand-in upload for ``assignment`` (one code cell)."""
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(STAND_INS[assignment].strip())])


def run_selftest(root: Path) -> int:
    """Grade stand-ins for the zip's assignments in ``root`` with ``run_autograder``; print the time
    and peak memory against this container's limits. Returns 0 when every function was graded.

    Raises:
        FileExistsError: ``root/submission`` holds files (never overwritten).
    """
    config = RunConfig.read(root / "source")
    submission, results = root / "submission", root / "results"
    if submission.exists() and any(submission.iterdir()):
        raise FileExistsError(f"{submission} is not empty: the self-test never overwrites an upload")
    submission.mkdir(exist_ok=True)
    try:
        for assignment in config.assignments:
            nbformat.write(stand_in_notebook(assignment), submission / f"{assignment}.ipynb")
        started = time.monotonic()
        process = subprocess.Popen(
            ["bash", str(root / "source" / "run_autograder")],  # the zip's own: Gradescope copies it later
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={"PATH": "/usr/local/bin:/usr/bin:/bin", "AUTOGRADER_ROOT": str(root)},
        )
        with PeakSampler(unreclaimable_memory, 0.1) as sampler:
            log, _ = process.communicate()
        seconds = time.monotonic() - started
        data = json.loads((results / "results.json").read_text(encoding="utf-8"))
    finally:
        shutil.rmtree(submission, ignore_errors=True)
        shutil.rmtree(results, ignore_errors=True)
    return _report(data, log, seconds, sampler.peak, config.assignments)


def _report(data: dict, log: str, seconds: float, peak: int | None, assignments: tuple[str, ...]) -> int:
    from autograder.functions import function_names  # imports torch: only once the run is over

    limit, cpus = memory_limit(), cpu_quota()
    expected = sum(len(function_names(a)) for a in assignments if a in NOTEBOOKS)
    graded = [t for t in data.get("tests", [])[1:] if t.get("extra_data", {}).get("status")]
    broken = [t["name"] for t in graded if t["extra_data"]["status"] in ("error", "crashed", "timeout")]
    memory = "unknown (no cgroup memory controller)" if peak is None else f"{peak / 2**20:.0f} MiB"
    print(
        f"self-test: {', '.join(assignments)} graded in {seconds:.1f} s; peak memory {memory} (anonymous "
        "and tmpfs: what the kernel cannot reclaim; the page cache it can comes on top); this container: "
        + (f"{limit / 2**20:.0f} MiB memory limit" if limit is not None else "no memory limit")
        + (f", {cpus:g} CPU" if cpus is not None else ", no CPU quota")
    )
    error = data.get("extra_data", {}).get("grader_error")
    if error or len(graded) != expected or broken:
        why = error or f"{len(graded)} of {expected} functions graded, failing to run: {broken}"
        print(f"self-test FAILED: {why}\n--- run_autograder's output ---\n{log[-4000:]}")
        return 1
    if limit is not None and peak is not None and peak > 0.75 * limit:
        print(
            "self-test: WARNING: the peak is above 75% of the memory limit (code pages need room too); "
            "raise the memory under "
            "the assignment's Settings > Autograder Settings"
        )
    print(f"self-test passed: all {expected} functions graded (a stand-in scores {data.get('score', 0):g})")
    return 0
