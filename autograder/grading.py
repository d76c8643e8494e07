"""Batch grading: one submission in a sandbox, then many in parallel worker processes.

Pipeline per submission (plain data between the steps):
:func:`autograder.submission.discover_submissions` -> :func:`autograder.extraction.extract_student_code`
-> :class:`autograder.sandbox.Sandbox` (student code runs only there, one process per notebook) ->
:meth:`autograder.checks.FunctionCheck.grade` in this process (references and the grader's own model
never enter the student process) -> :class:`autograder.results.SubmissionResult` -> reports.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from autograder.checks import CHECKS, NOTEBOOKS, GradingContext, checks_for
from autograder.extraction import extract_student_code, function_source
from autograder.references import HIDDEN_ENV, References, inputs_digest, load_references
from autograder.results import CheckResult, SubmissionResult
from autograder.sandbox import Limits, Sandbox
from autograder.submission import Submission, discover_submissions
from autograder.template import warm_template

__all__ = ["GradeRun", "grade_notebook", "grade_path", "result_name"]


@lru_cache(maxsize=1)
def _grader_model() -> torch.nn.Module:
    from course_utils.models import load_model

    torch.set_num_threads(1)
    return load_model("cpu")


@lru_cache(maxsize=4)
def _cached_references(which: str, path: str | None) -> References:
    return load_references(which, Path(path) if path else None)


def _references(reference_set: str, references_dir: Path | None, references_path: Path | None) -> References:
    if reference_set not in ("hidden", "public"):
        raise ValueError(f"reference_set must be 'hidden' or 'public', not {reference_set!r}")
    path = references_path
    if path is None and references_dir is not None:
        path = Path(references_dir) / f"{reference_set}.pt"
    return _cached_references(reference_set, str(path) if path else None)


def _assignment_functions(assignment: str | None) -> list[str]:
    if assignment in NOTEBOOKS:
        return [c.function for c in checks_for(assignment)]
    return list(CHECKS)


def grade_notebook(
    submission: Submission,
    *,
    limits: Limits | None = None,
    reference_set: str = "hidden",
    references_dir: Path | None = None,
    references_path: Path | None = None,
    hide: Sequence[Path] = (),
) -> SubmissionResult:
    """Grade one submitted notebook: run its functions in a sandbox and check each one.

    Args:
        submission: from :func:`autograder.submission.discover_submissions`.
        limits: time / memory / output limits per call (default :class:`Limits()`).
        reference_set: ``"hidden"`` (grading) or ``"public"`` (what the self-checks use).
        references_dir: folder holding ``hidden.pt`` / ``public.pt``; default: the packaged public
            file, or ``$AUTOGRADER_HIDDEN_REFERENCES`` for hidden.
        references_path: the reference file itself (overrides ``references_dir``).
        hide: more paths the student process must not see (e.g. the output folder). The reference
            file in use is always hidden.

    Returns:
        The result; never raises for anything in the submission (problems are recorded in it).
    """
    warm_template()  # the student-process template imports torch while this process gets ready
    refs = _references(reference_set, references_dir, references_path)
    functions = _assignment_functions(submission.assignment)
    max_score = sum(CHECKS[f].points for f in functions)
    result = SubmissionResult(
        student=submission.student,
        assignment=submission.assignment,
        score=0.0,
        max_score=max_score,
        problems=list(submission.problems),
        source=str(submission.path),
    )
    if submission.notebook is None:
        result.checks = [
            CheckResult(f, reference_set, 0.0, CHECKS[f].points, "missing", "the notebook could not be read")
            for f in functions
        ]
        return result
    chunks, problems = extract_student_code(submission.notebook, functions)
    result.problems.extend(problems)
    model = _grader_model() if any(CHECKS[f].needs_model for f in functions) else None
    secret = references_path or (Path(references_dir) / f"{reference_set}.pt" if references_dir else None)
    if secret is None and reference_set == "hidden" and os.environ.get(HIDDEN_ENV):
        secret = Path(os.environ[HIDDEN_ENV])
    hidden_paths = [*hide, *([secret] if secret is not None else [])]
    with Sandbox(chunks, limits, hide=hidden_paths) as sandbox:
        result.problems.extend(sandbox.setup_problems)
        if sandbox.grader_error:
            result.grader_error = sandbox.grader_error
        for function in functions:
            check = CHECKS[function]
            entry = refs.entries[function]
            call = check.make_call(refs.seed)
            if entry["digest"] != inputs_digest(call):
                raise RuntimeError(
                    f"the check inputs of {function} differ from those the references were built with "
                    "(the check or the bundled data changed): rebuild the references."
                )
            outcome = sandbox.run(function, call)
            ctx = GradingContext(
                model=model, source=function_source(chunks, function), variants=refs.variants(function)
            )
            verdict = check.grade(outcome, entry["expected"], call, ctx)
            message = verdict.message
            if outcome.output.strip() and verdict.status not in ("passed",):
                message += f"\nOutput:\n{outcome.output.strip()[-2000:]}"
            result.checks.append(
                CheckResult(
                    function=function,
                    check=reference_set,
                    points=round(check.points * verdict.fraction, 4),
                    max_points=check.points,
                    status=verdict.status,
                    message=message,
                    hint=verdict.hint,
                    rel_error=verdict.rel_error,
                    threshold=verdict.threshold,
                    mistake=verdict.mistake,
                )
            )
    result.score = round(sum(c.points for c in result.checks), 4)
    return result


def result_name(submission: Submission) -> str:
    """File stem of a submission's results: ``<student>__<assignment>`` (filesystem-safe)."""
    raw = f"{submission.student}__{submission.assignment or 'unknown'}"
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in raw)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _needs_grading(out_json: Path) -> bool:
    """No result yet, an unreadable one, or one the grader failed to produce (retried on rerun)."""
    try:
        return bool(SubmissionResult.from_json(out_json.read_text(encoding="utf-8")).grader_error)
    except (OSError, ValueError, TypeError):  # missing, or not a result we can read
        return True


@dataclass(frozen=True)
class _Job:
    submission: Submission
    out_json: Path
    out_dir: Path
    limits: Limits | None
    reference_set: str
    references_path: Path | None
    hide: tuple[Path, ...] = ()


def _grade_job(job: _Job) -> tuple[str, float]:
    """Grade one submission and write its JSON (run in a worker process)."""
    start = time.perf_counter()
    torch.set_num_threads(1)
    try:
        result = grade_notebook(
            job.submission,
            limits=job.limits,
            reference_set=job.reference_set,
            references_path=job.references_path,
            hide=(job.out_dir, *job.hide),
        )
    except (RuntimeError, OSError, ValueError) as exc:  # grader-side failure: record, don't lose the batch
        result = SubmissionResult(
            student=job.submission.student,
            assignment=job.submission.assignment,
            score=0.0,
            max_score=sum(CHECKS[f].points for f in _assignment_functions(job.submission.assignment)),
            problems=[*job.submission.problems, f"grading failed: {type(exc).__name__}: {exc}"],
            source=str(job.submission.path),
            grader_error=f"{type(exc).__name__}: {exc}",
        )
    _write_atomic(job.out_json, result.to_json())
    return str(job.out_json), time.perf_counter() - start


@dataclass
class GradeRun:
    """What :func:`grade_path` did.

    Attributes:
        results: every submission's result (freshly graded or read back), in discovery order.
        graded: how many were graded in this run.
        skipped: how many were already graded and read back (no ``force``).
        seconds: wall-clock time of the run.
    """

    results: list[SubmissionResult]
    graded: int
    skipped: int
    seconds: float


def grade_path(
    path: Path,
    out_dir: Path,
    workers: int = 1,
    *,
    force: bool = False,
    limits: Limits | None = None,
    reference_set: str = "hidden",
    references_path: Path | None = None,
    progress: bool = True,
    on_result: Callable[[SubmissionResult], None] | None = None,
) -> GradeRun:
    """Grade every submission under ``path`` and write all reports into ``out_dir``.

    Per-student results go to ``out_dir/results/<student>__<assignment>.json``, each written
    atomically (temp file + ``os.replace``), so a killed run loses nothing already graded and a rerun
    skips those unless ``force``. Reports (gradebook CSV, feedback, Gradescope JSON) are rewritten
    from all results at the end.

    Args:
        path: a notebook, a folder of notebooks, nbgrader's ``submitted/`` tree, or zips.
        out_dir: output folder (created).
        workers: parallel worker processes (each grades one submission at a time).
        force: regrade submissions that already have a result.
        limits: per-call limits for student code.
        reference_set: ``"hidden"`` or ``"public"``.
        references_path: the reference file (default: packaged public /
            ``$AUTOGRADER_HIDDEN_REFERENCES``).
        progress: show a progress bar.
        on_result: called with each result as it is written (in this process).

    Returns:
        What was done.
    """
    from autograder.reports import write_reports
    from course_utils.progress import progress as progress_bar

    start = time.perf_counter()
    out_dir = Path(out_dir)
    results_dir = out_dir / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    # fail early, in this process, when references are missing or stale
    _references(reference_set, None, references_path)
    work_dir = out_dir / ".submissions"
    submissions = discover_submissions(Path(path), work_dir)
    jobs: list[_Job] = []
    outputs: list[Path] = []
    for submission in submissions:
        out_json = results_dir / f"{result_name(submission)}.json"
        outputs.append(out_json)
        if force or _needs_grading(out_json):
            # every submission stays out of every student process: no copying a classmate's function
            jobs.append(
                _Job(
                    submission,
                    out_json,
                    out_dir,
                    limits,
                    reference_set,
                    references_path,
                    hide=(Path(path).resolve(),),
                )
            )

    def done(out_json: str) -> None:
        if on_result is not None:
            on_result(SubmissionResult.from_json(Path(out_json).read_text(encoding="utf-8")))

    def shown(iterable, total: int):
        return progress_bar(iterable, desc="grading", total=total) if progress else iterable

    if workers <= 1 or len(jobs) <= 1:
        for job in shown(jobs, len(jobs)):
            done(_grade_job(job)[0])
    else:
        with ProcessPoolExecutor(max_workers=workers, initializer=warm_template) as pool:
            futures = [pool.submit(_grade_job, job) for job in jobs]
            for future in shown(as_completed(futures), len(futures)):
                done(future.result()[0])
    results = [SubmissionResult.from_json(p.read_text(encoding="utf-8")) for p in outputs if p.exists()]
    write_reports(results, out_dir)
    return GradeRun(
        results, graded=len(jobs), skipped=len(submissions) - len(jobs), seconds=time.perf_counter() - start
    )
