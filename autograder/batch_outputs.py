"""What a graded batch leaves for people: gradebook, feedback, Gradescope's JSON, ``run.json``, class report.

The layers below know nothing of each other's files: :mod:`autograder.grading.batch` grades into
``OUT/results/``; :mod:`autograder.grading.reports` writes the gradebook and feedback,
:mod:`autograder.gradescope.results` renders Gradescope's ``results.json``, and
:mod:`autograder.class_report` the instructors' page. This module, above all of them, joins them:
:func:`grade_path` (what the command line, the demo and the tests call) grades and then writes
every output; :func:`rebuild_outputs` writes them again from ``OUT/results/`` without regrading
(``python -m autograder report``).

Layout of ``OUT``: ``results/<student>__<assignment>.json``, ``gradebook.csv``,
``feedback/<student>__<assignment>.md`` and ``.html``, ``gradescope/<student>.json``, ``run.json``
(the run's settings; never the hidden seed), ``report.html`` and ``report.csv``, and
``report-errors.txt`` only when a writer failed for some file (every other file is still written).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from autograder.class_report import read_run_info, run_info, write_class_report
from autograder.gradescope.results import gradescope_results
from autograder.grading.batch import GradeRun, grade_submissions
from autograder.grading.reports import write_reports
from autograder.grading.results import SubmissionResult
from autograder.grading.store import read_results, write_atomic
from autograder.settings import GradingSettings

__all__ = ["grade_path", "rebuild_outputs", "write_outputs"]


def _gradescope_json(results: Sequence[SubmissionResult]) -> str:
    return json.dumps(gradescope_results(results), indent=2)


def write_outputs(
    out_dir: Path, results: Sequence[SubmissionResult], run: dict[str, Any] | None
) -> dict[str, Path]:
    """Write every file people read from ``results`` (see the module docstring for the layout).

    Args:
        out_dir: the batch's output folder.
        results: the batch's results.
        run: the run's settings as plain data (:func:`autograder.class_report.run_info`, as in
            ``run.json``), shown by the class report; ``None`` when unknown.

    Returns:
        The files and folders written, by kind.
    """
    out_dir = Path(out_dir)
    paths = write_reports(results, out_dir, student_files={"gradescope": _gradescope_json})
    paths.update(write_class_report(out_dir, results, run))
    return paths


def grade_path(
    path: Path,
    out_dir: Path,
    settings: GradingSettings,
    workers: int = 1,
    *,
    force: bool = False,
    progress: bool = True,
    on_result: Callable[[SubmissionResult], None] | None = None,
) -> GradeRun:
    """Grade every submission under ``path`` (:func:`autograder.grading.batch.grade_submissions`,
    same arguments) and write every output into ``out_dir``.

    Raises:
        What :func:`~autograder.grading.batch.grade_submissions` raises (missing path or references,
        stale references, hidden references without isolation); nothing is written then.
    """
    run = grade_submissions(
        path, out_dir, settings, workers, force=force, progress=progress, on_result=on_result
    )
    info = run_info(run.results, settings.limits, settings.reference_set, run.references, workers)
    write_atomic(Path(out_dir) / "run.json", json.dumps(info, indent=2))
    write_outputs(Path(out_dir), run.results, info)
    return run


def rebuild_outputs(out_dir: Path) -> tuple[dict[str, Path], list[str]]:
    """Write every output but ``run.json`` again from ``out_dir/results/`` and ``out_dir/run.json``,
    without regrading (after editing a result by hand, or with a newer version of the writers).

    Returns:
        The files written, and warnings for what was skipped (a result file that is not a result, a
        malformed ``run.json`` or one of its fields): never fatal.

    Raises:
        FileNotFoundError: when ``out_dir/results/`` holds no result file.
    """
    results, warnings = read_results(out_dir)
    run, run_warnings = read_run_info(out_dir)
    return write_outputs(Path(out_dir), results, run or None), [*warnings, *run_warnings]
