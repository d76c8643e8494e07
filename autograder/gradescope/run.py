"""Grade one Gradescope submission: what ``run_autograder`` runs (``python -m autograder gradescope-run``).

Gradescope's layout under the root (``/autograder``, or ``$AUTOGRADER_ROOT`` in tests):
``source/`` (the unpacked zip: ``gradescope.json``, ``hidden.pt``, ``course/``), ``submission/``
(the upload), ``results/results.json`` (written here). Whatever goes wrong on the grader's side,
a ``results.json`` saying so is written and the exit status is 1.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from autograder.cgroups import cpu_quota, memory_limit, memory_peak
from autograder.gradescope.config import RunConfig
from autograder.gradescope.results import failure_results, gradescope_results
from autograder.gradescope.schema import validate_results
from autograder.grading.results import CheckResult, SubmissionResult
from autograder.grading.store import write_atomic
from autograder.settings import GRADESCOPE_ROOT, GRADESCOPE_ROOT_ENV, GradingSettings, Limits

__all__ = ["container_resources", "run_gradescope", "write_json"]


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON, atomically (:func:`autograder.grading.store.write_atomic`)."""
    write_atomic(path, json.dumps(data, indent=2))


def _missing(assignment: str, references: str, why: str) -> SubmissionResult:
    """A result of 0 for an assignment without a gradable upload, each function saying ``why``."""
    from autograder.functions import functions_of

    checks = [
        CheckResult(fn.name, references, 0.0, fn.points, "missing", why) for fn in functions_of(assignment)
    ]
    return SubmissionResult("submission", assignment, 0.0, sum(c.max_points for c in checks), checks)


def _protections(settings: GradingSettings) -> dict[str, str]:
    """The protections a student process gets in this container (for staff: ``extra_data``, stdout)."""
    from autograder.isolation.sandbox import Sandbox

    with Sandbox([], settings.limits, hide=settings.secret_paths, course_roots=settings.course_roots) as box:
        return dict(box.protections)


def _grade(root: Path, config: RunConfig, workdir: Path) -> tuple[dict[str, Any], str | None]:
    """Grade the upload; returns ``(results.json, grader error or None)``."""
    from autograder.course import NOTEBOOKS
    from autograder.gradescope.upload import select_upload
    from autograder.grading.batch import grade_submissions

    started = time.monotonic()
    source = root / "source"
    references_path = None
    if config.references == "hidden":
        references_path = source / "hidden.pt"
    upload, staged = select_upload(root / "submission", workdir, config.assignments)
    # the zip (hidden references included), the upload and the results stay out of student code
    settings = GradingSettings(
        config.references,
        references_path,
        Limits(timeout_s=config.timeout_s),
        course_roots=(source, root / "submission", root / "results"),
    )
    graded: list[SubmissionResult] = []
    if set(upload.graded) - set(upload.unreadable):
        graded = grade_submissions(staged, workdir / "out", settings, progress=False).results
    failed = [r for r in graded if r.grader_error]
    if failed:
        return {}, f"{failed[0].assignment}: {failed[0].grader_error}"
    results = graded + [
        _missing(a, config.references, f"no {a} notebook was uploaded") for a in upload.missing
    ]
    results += [
        _missing(a, config.references, f"the uploaded {upload.graded[a]} could not be read (see above)")
        for a in upload.unreadable
    ]
    order = list(NOTEBOOKS)
    results.sort(key=lambda r: order.index(r.assignment) if r.assignment in NOTEBOOKS else 99)
    data = gradescope_results(
        results, upload=upload, seconds=time.monotonic() - started, visibility=config.visibility
    )
    data["extra_data"]["protections"] = _protections(settings)
    problems = validate_results(data)
    if problems:
        return {}, "the grader wrote an invalid results.json: " + "; ".join(problems)
    return data, None


def run_gradescope(root: Path | None = None) -> int:
    """Grade ``root/submission`` and write ``root/results/results.json``; returns the exit status.

    Args:
        root: Gradescope's root folder (default ``$AUTOGRADER_ROOT`` or ``/autograder``; the
            environment is read here, at the edge).

    Returns:
        0 when graded; 1 when the grader failed (the results.json written then says so).
    """
    started = time.monotonic()
    if root is None:
        root = Path(os.environ.get(GRADESCOPE_ROOT_ENV) or GRADESCOPE_ROOT)
    root = Path(root)
    target = root / "results" / "results.json"
    try:
        config = RunConfig.read(root / "source")
        with tempfile.TemporaryDirectory(prefix="gradescope-") as work:
            data, error = _grade(root, config, Path(work))
    except Exception as exc:  # any failure of the grader must still leave a results.json
        traceback.print_exc()
        data, error = {}, f"{type(exc).__name__}: {exc}"
    resources = container_resources(time.monotonic() - started)
    print(resources, flush=True)  # stdout is for the staff only ("Test Autograder" shows it)
    if error is not None:
        print(f"error: grading failed: {error}", file=sys.stderr)
        write_json(target, failure_results(error, seconds=time.monotonic() - started))
        return 1
    data["extra_data"]["resources"] = resources
    write_json(target, data)
    print(data["output"])
    print("student-process protections:", json.dumps(data["extra_data"]["protections"], indent=2))
    print(f"score {data['score']:g}; results written to {target}")
    return 0


def container_resources(seconds: float) -> str:
    """One line for the staff: the run's time and memory peak against this container's limits."""
    limit, peak, cpus = memory_limit(), memory_peak(), cpu_quota()
    memory = "memory: peak " + (f"{peak / 2**20:.0f} MiB" if peak is not None else "unknown")
    memory += f" of a {limit / 2**20:.0f} MiB limit" if limit is not None else " (no limit)"
    cpu = f"{cpus:g} CPU (quota)" if cpus is not None else f"{os.cpu_count()} CPUs (no quota)"
    return (
        f"resources: {seconds:.1f} s; {memory}; {cpu}. Gradescope's Autograder Settings set both; "
        "docs/grading.md lists what grading needs"
    )
