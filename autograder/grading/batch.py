"""Batch grading: every submission under a path, in parallel worker processes, results kept on disk.

Pipeline per submission (plain data between the steps):
:func:`~autograder.grading.submission.discover_submissions` ->
:func:`~autograder.grading.notebook.grade_notebook` (student code runs only in a sandbox) ->
``OUT/results/<student>__<assignment>.json`` (atomic). The files people read (gradebook,
feedback, Gradescope's JSON, ``run.json``, the class report) are written from those results by
:mod:`autograder.batch_outputs`, above this layer.

A killed run loses nothing already graded and a rerun skips it (unless ``force``); results the
grader itself failed to produce (``grader_error``) are graded again. References are loaded, and so
verified, once in this process before anything starts: a stale file stops the run at once.

The batch never aborts because of one submission: a failure while reading, grading or reporting it
becomes that submission's result (with a message) or a grader error for it alone (a worker that
dies included); every other result is always written.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from autograder.functions import FUNCTIONS
from autograder.grading.identity import resolve_duplicates
from autograder.grading.notebook import assignment_functions, grade_notebook
from autograder.grading.results import SubmissionResult
from autograder.grading.store import read_result, result_stem, write_atomic
from autograder.grading.submission import Submission, discover_submissions
from autograder.isolation import linux
from autograder.isolation.availability import check_isolation
from autograder.isolation.folders import sweep_leftovers
from autograder.isolation.origin import seal
from autograder.isolation.sandbox import Sandbox
from autograder.references import References, cached_references
from autograder.settings import GradingSettings

__all__ = ["GradeRun", "grade_submissions"]


def _needs_grading(out_json: Path) -> tuple[bool, str]:
    """Whether to grade: no result yet, an unreadable one, or one the grader failed to produce
    (retried on rerun); and a warning when an existing file was not a readable result."""
    if not out_json.exists():
        return True, ""
    try:
        return bool(read_result(out_json).grader_error), ""
    except (OSError, ValueError, TypeError, RecursionError) as exc:  # not a result we can read
        why = f"{type(exc).__name__}: {exc}"
        return True, f"results/{out_json.name} was not a readable result ({why}); graded again"


def _grader_failure(submission: Submission, exc: BaseException) -> SubmissionResult:
    functions = assignment_functions(submission.assignment)
    why = f"{type(exc).__name__}: {exc}"[:2000]
    return SubmissionResult(
        student=submission.student,
        assignment=submission.assignment,
        score=0.0,
        max_score=sum(FUNCTIONS[f].points for f in functions),
        problems=[*submission.problems, f"grading failed: {why}"],
        source=str(submission.path),
        grader_error=why,
    )


@dataclass(frozen=True)
class _Job:
    submission: Submission
    out_json: Path
    settings: GradingSettings


def _grade_job(job: _Job) -> tuple[str, float]:
    """Grade one submission and write its JSON (run in a worker process); never raises."""
    start = time.perf_counter()
    torch.set_num_threads(1)
    try:
        refs = cached_references(job.settings.reference_set, job.settings.references_path)
        result = grade_notebook(job.submission, refs, job.settings)
        result.seconds = round(time.perf_counter() - start, 4)
        text = result.to_json()
    except Exception as exc:  # the grader's failure, for this submission alone: recorded, retried on rerun
        text = _grader_failure(job.submission, exc).to_json()
    write_atomic(job.out_json, text)
    return str(job.out_json), time.perf_counter() - start


@dataclass
class GradeRun:
    """What :func:`grade_submissions` did.

    Attributes:
        results: every submission's result (freshly graded or read back), in discovery order.
        graded: how many were graded in this run.
        skipped: how many were already graded and read back (no ``force``).
        seconds: wall-clock time of the run.
        warnings: what the instructor should know that did not stop the run (an earlier result file
            that was not a readable result, and was graded again).
        references: the references graded against (loaded and verified once, before grading).
    """

    results: list[SubmissionResult]
    graded: int
    skipped: int
    seconds: float
    warnings: list[str] = field(default_factory=list)
    references: References | None = None


def _start_worker(grader_pid: int) -> None:
    """First thing in each worker process: die with the grader, get this worker's template."""
    linux.die_with_parent()
    if os.getppid() != grader_pid:  # the grader died before the line above
        os._exit(1)
    Sandbox.warm()  # from the origin the grader forked before it read any reference


def _run_jobs(jobs: list[_Job], workers: int, progress: bool) -> Iterator[str]:
    """Grade every job; yield each result file as it is written. A job whose worker fails (a dead
    worker process included) gets a grader-error result written here."""
    from course_utils.progress import progress as progress_bar

    def shown(iterable: Iterable, total: int) -> Iterable:
        return progress_bar(iterable, desc="grading", total=total) if progress else iterable

    if workers <= 1 or len(jobs) <= 1:
        for job in shown(jobs, len(jobs)):
            yield _grade_job(job)[0]
        return
    # fork: a worker reaches the origin through the socket it inherits (never "spawn": it would not)
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_start_worker,
        initargs=(os.getpid(),),
    ) as pool:
        futures: dict[Future, _Job] = {pool.submit(_grade_job, job): job for job in jobs}
        for future in shown(as_completed(futures), len(futures)):
            job = futures[future]
            try:
                yield future.result()[0]
            except Exception as exc:  # e.g. BrokenProcessPool: the worker died
                write_atomic(job.out_json, _grader_failure(job.submission, exc).to_json())
                yield str(job.out_json)


def _read_result(out_json: Path, submission: Submission) -> SubmissionResult:
    """The result written for ``submission``; a grader error (retried on rerun) if it is unreadable."""
    try:
        return read_result(out_json)
    except (OSError, ValueError, TypeError, RecursionError) as exc:
        return _grader_failure(submission, RuntimeError(f"its result file could not be read back: {exc}"))


def grade_submissions(
    path: Path,
    out_dir: Path,
    settings: GradingSettings,
    workers: int = 1,
    *,
    force: bool = False,
    progress: bool = True,
    on_result: Callable[[SubmissionResult], None] | None = None,
) -> GradeRun:
    """Grade every submission under ``path`` into ``out_dir/results/`` (one JSON file each).

    Reports are not written here: :func:`autograder.batch_outputs.grade_path` grades and writes them.

    Args:
        path: a notebook, a folder of notebooks, nbgrader's ``submitted/`` tree, or zips.
        out_dir: output folder (created); results go to ``out_dir/results/``.
        settings: reference set and file, limits, extra paths to hide.
        workers: parallel worker processes (each grades one submission at a time).
        force: regrade submissions that already have a result.
        progress: show a progress bar.
        on_result: called with each result as it is written (in this process).

    Returns:
        What was done.

    Raises:
        FileNotFoundError: ``path`` or the reference file does not exist.
        autograder.references.StaleReferencesError: the references no longer match the checks.
        autograder.isolation.availability.UnisolatedError: hidden references, no isolation
            available here, and not ``settings.allow_unisolated``.
    """
    start = time.perf_counter()
    # Before anything student code must not see is read: the origin of every student process is
    # forked from this process now (torch and the model loaded once, shared by all of them).
    Sandbox.warm()
    seal()
    sweep_leftovers()  # sandbox folders of graders that were killed
    out_dir = Path(out_dir)
    results_dir = out_dir / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    # zips are read in memory now; older versions unpacked them here (and kept them)
    shutil.rmtree(out_dir / ".submissions", ignore_errors=True)
    # fails early: missing or stale
    refs = cached_references(settings.reference_set, settings.references_path)
    isolation = check_isolation(settings.reference_set, settings.allow_unisolated)  # or refuses
    # outside the student's view anyway; hidden too should the view ever overlap them, with the
    # private parts of an nbgrader course being graded (autograder.isolation.view.hidden_paths)
    job_settings = replace(
        settings,
        hide=(*settings.hide, out_dir.resolve(), Path(path).resolve()),
        isolate=settings.isolate and isolation.available,
    )
    submissions = resolve_duplicates(discover_submissions(Path(path), settings.caps))
    jobs: list[_Job] = []
    outputs: dict[Path, Submission] = {}
    warnings: list[str] = []
    for submission in submissions:
        out_json = results_dir / f"{result_stem(submission.student, submission.assignment)}.json"
        outputs[out_json] = submission
        needed, warning = (True, "") if force else _needs_grading(out_json)
        if warning:
            warnings.append(warning)
        if needed:
            jobs.append(_Job(submission, out_json, job_settings))
    for out_json in _run_jobs(jobs, workers, progress):
        if on_result is not None:
            on_result(_read_result(Path(out_json), outputs[Path(out_json)]))
    results = [_read_result(p, s) for p, s in outputs.items()]
    return GradeRun(
        results,
        graded=len(jobs),
        skipped=len(submissions) - len(jobs),
        seconds=time.perf_counter() - start,
        warnings=warnings,
        references=refs,
    )
