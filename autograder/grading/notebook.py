"""Grading one notebook: extract the student's code, run each graded function in a sandbox, judge it.

:func:`grade_notebook` is one step of the batch pipeline with plain data in and out: a
:class:`~autograder.grading.submission.Submission` and loaded references in, a
:class:`~autograder.grading.results.SubmissionResult` out. Student code runs only in the
:class:`~autograder.isolation.sandbox.Sandbox`; references never enter it.
"""

from __future__ import annotations

import time

from autograder.checks.source import ChunkSources
from autograder.course import NOTEBOOKS
from autograder.functions import FUNCTIONS, function_names
from autograder.grading.function import grade_function
from autograder.grading.results import CheckResult, SubmissionResult
from autograder.grading.similarity import fingerprint
from autograder.grading.submission import Submission
from autograder.isolation.availability import isolation_of, unisolated_message
from autograder.isolation.sandbox import Sandbox
from autograder.notebook_io.extraction import extract_student_code, function_source
from autograder.references import References
from autograder.runner import CallOutcome
from autograder.settings import GradingSettings

__all__ = ["assignment_functions", "grade_notebook"]


def assignment_functions(assignment: str | None) -> tuple[str, ...]:
    """The graded functions of an assignment; every function when the assignment is unknown."""
    if assignment in NOTEBOOKS:
        return function_names(assignment)
    return tuple(FUNCTIONS)


def grade_notebook(submission: Submission, refs: References, settings: GradingSettings) -> SubmissionResult:
    """Grade one submitted notebook: run its functions in a sandbox and check each one.

    Args:
        submission: from :func:`autograder.grading.submission.discover_submissions`.
        refs: loaded (and so verified) references of ``settings.reference_set``.
        settings: limits and the paths to hide from student code.

    Returns:
        The result; never raises for anything in the submission (problems are recorded in it).
        Functions not yet called when ``settings.caps.notebook_seconds`` have passed are not run
        and get status ``timeout``.
    """
    deadline = time.monotonic() + settings.caps.notebook_seconds
    functions = assignment_functions(submission.assignment)
    result = SubmissionResult(
        student=submission.student,
        assignment=submission.assignment,
        score=0.0,
        max_score=sum(FUNCTIONS[f].points for f in functions),
        problems=list(submission.problems),
        source=str(submission.path),
    )
    if submission.notebook is None:
        result.checks = [
            CheckResult(
                f,
                settings.reference_set,
                0.0,
                FUNCTIONS[f].points,
                "missing",
                "the notebook could not be read",
            )
            for f in functions
        ]
        return result
    chunks, problems = extract_student_code(submission.notebook, functions)
    result.problems.extend(problems)
    sources = ChunkSources((chunk.code, chunk.defines) for chunk in chunks)
    sandbox = Sandbox(
        chunks,
        settings.limits,
        hide=settings.secret_paths,
        isolate=settings.isolate,
        course_roots=settings.course_roots,
    )
    with sandbox:
        result.problems.extend(sandbox.setup_problems)
        result.isolation = isolation_of(sandbox.protections)
        result.protections = dict(sandbox.protections)
        if sandbox.grader_error:
            result.grader_error = sandbox.grader_error
        elif sandbox.protections.get("view", "").startswith("off"):  # isolation failed: no code ran
            why = sandbox.protections["view"]
            result.grader_error = f"the student process could not be isolated (its file system view: {why})"
            functions = ()
        elif (
            result.isolation == "none"
            and settings.reference_set == "hidden"
            and not settings.allow_unisolated
        ):  # the probe said yes, this process says no: no student code is called
            why = sandbox.protections.get("namespaces", "no namespaces")
            result.grader_error = unisolated_message(f"this student process: namespaces {why}")
            functions = ()
        for function in functions:
            if time.monotonic() > deadline:
                result.checks.append(_out_of_time(function, settings))
                continue
            outcomes: list[CallOutcome] = []
            for call in refs[function].calls:
                outcomes.append(sandbox.run(function, call))
                if outcomes[-1].status != "ok":
                    break  # the first failure decides; the remaining cases would cost time for nothing
            result.checks.append(
                grade_function(
                    function, outcomes, refs, reference_set=settings.reference_set, sources=sources
                )
            )
        if sandbox.grader_error and not result.grader_error:  # e.g. the machine ran out of memory
            result.grader_error = sandbox.grader_error
    result.score = round(min(sum(c.points for c in result.checks), result.max_score), 4)
    sources = {f: function_source(chunks, f) for f in functions}
    result.fingerprints = {f: fp for f, src in sources.items() if (fp := fingerprint(src, f)) is not None}
    return result


def _out_of_time(function: str, settings: GradingSettings) -> CheckResult:
    seconds = settings.caps.notebook_seconds
    return CheckResult(
        function,
        settings.reference_set,
        0.0,
        FUNCTIONS[function].points,
        "timeout",
        f"{function} was not run: grading this notebook took more than {seconds:g} s in all "
        "(its code, or its earlier functions, are far too slow)",
    )
