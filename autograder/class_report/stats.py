"""The numbers of the instructors' class report, computed from grading results (plain data in, out).

:func:`class_stats` reads :class:`autograder.grading.results.SubmissionResult` objects and returns a
:class:`ClassStats`; :mod:`autograder.class_report` draws and writes it. Nothing here runs student
code or reads files.

Counting rules:

* A submission is *unreadable* when its notebook could not be read (every check ``missing`` with
  :data:`UNREADABLE_MESSAGE`), *not graded* when the grader itself failed (``grader_error``), and
  *graded* otherwise. Only graded submissions enter the per-function numbers and the totals.
* Percentages of the class are of the graded submissions of the same assignment.
* A known mistake is a check whose ``mistake`` is set (a variant matched in
  ``checks.base.compare_values``). Every other check that is neither passed nor not implemented
  contributes its normalized message (:func:`normalize_message`) to the message table.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from autograder.course import NOTEBOOKS
from autograder.functions import FUNCTIONS, function_names
from autograder.grading.results import SubmissionResult
from autograder.grading.similarity import MIN_NODES
from autograder.status import Status

__all__ = [
    "UNREADABLE_MESSAGE",
    "AssignmentStats",
    "ClassStats",
    "Cluster",
    "FunctionStats",
    "MessageRow",
    "MistakeRow",
    "class_stats",
    "normalize_message",
    "submission_kind",
    "summary",
]

#: The message of every check of a notebook that could not be read (autograder.grading).
UNREADABLE_MESSAGE = "the notebook could not be read"

_NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?(?![\w])", re.IGNORECASE)
_FILE = re.compile(r"^\S+\.(?:ipynb|zip|json|py)\b:?\s*", re.IGNORECASE)


@dataclass
class Summary:
    """Descriptive statistics of a list of numbers (``None`` fields when the list is empty)."""

    count: int
    mean: float | None
    median: float | None
    min: float | None
    max: float | None


def summary(values: Sequence[float]) -> Summary:
    """Count, mean, median, min and max of ``values``."""
    if not values:
        return Summary(0, None, None, None, None)
    return Summary(len(values), statistics.fmean(values), statistics.median(values), min(values), max(values))


@dataclass
class MistakeRow:
    """One known mistake of one function: how many graded submissions made it, and the hint given.

    Attributes:
        mistake: its id (``CheckResult.mistake``).
        count: graded submissions that made it.
        percent: their share of the graded submissions of the function's notebook.
        hint: the hint students received.
        label: what it looks like, in words (the check's label for the id; the id when unknown).
    """

    mistake: str
    count: int
    percent: float
    hint: str
    label: str = ""


@dataclass
class MessageRow:
    """One normalized message (error, failure, timeout...) of one function, with its count."""

    message: str
    count: int
    percent: float


@dataclass
class Cluster:
    """Students whose function is identical after normalization (see :mod:`.similarity`)."""

    students: list[str]
    nodes: int
    same_as_solution: bool


@dataclass
class FunctionStats:
    """Everything the report shows about one graded function.

    Attributes:
        function: the function's name.
        max_points: points available.
        points: points of each graded submission.
        statuses: count per status of :class:`autograder.status.Status` (all present).
        median_failed_rel_error: median rel_error of the failed and partial checks that measured one.
        threshold: the accepted rel_error (``None`` for checks by property).
        mistakes: known mistakes, most frequent first.
        messages: normalized messages of the other non-passed checks, most frequent first.
        seconds: call time of each check that recorded one, in seconds.
        clusters: groups of at least two students with identical long-enough code, largest first.
    """

    function: str
    max_points: float
    points: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=lambda: dict.fromkeys(Status, 0))
    median_failed_rel_error: float | None = None
    threshold: float | None = None
    mistakes: list[MistakeRow] = field(default_factory=list)
    messages: list[MessageRow] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    clusters: list[Cluster] = field(default_factory=list)


@dataclass
class AssignmentStats:
    """One assignment (notebook): counts, totals, time per submission and its functions."""

    assignment: str
    found: int
    graded: int
    not_graded: int
    unreadable: int
    max_score: float
    totals: list[float]
    submission_seconds: list[float]
    functions: list[FunctionStats]


@dataclass
class ClassStats:
    """The whole report's numbers.

    Attributes:
        found: submissions found (one per notebook file).
        graded / not_graded / unreadable: see the module docstring; they add up to ``found``.
        unreadable_reasons: normalized reason -> count.
        grader_errors: normalized grader error -> count.
        assignments: per assignment, in notebook order (``"unknown"`` last, if any).
        run: the run's settings (``run.json``), empty when unknown.
    """

    found: int
    graded: int
    not_graded: int
    unreadable: int
    unreadable_reasons: dict[str, int]
    grader_errors: dict[str, int]
    assignments: list[AssignmentStats]
    run: dict[str, Any] = field(default_factory=dict)


def normalize_message(message: str, function: str = "") -> str:
    """One line that groups equal messages: first line, no file name, numbers as ``N``, <= 200 chars.

    Example:
        >>> normalize_message("tv_loss raised an exception: IndexError: index 3 is out of bounds\\n  cell 4")
        'raised an exception: IndexError: index N is out of bounds'
    """
    line = message.strip().splitlines()[0] if message.strip() else ""
    if function and line.startswith(function + " "):
        line = line[len(function) + 1 :]
    line = _FILE.sub("", line)
    line = _NUMBER.sub("N", line)
    return line[:200] + ("..." if len(line) > 200 else "")


def submission_kind(result: SubmissionResult) -> str:
    """``"unreadable"``, ``"not_graded"`` (grader error) or ``"graded"``."""
    if result.grader_error:
        return "not_graded"
    if result.checks and all(
        c.status == "missing" and c.message == UNREADABLE_MESSAGE for c in result.checks
    ):
        return "unreadable"
    if not result.checks and result.problems:
        return "unreadable"
    return "graded"


def _reason(result: SubmissionResult) -> str:
    """The last problem's first sentence, normalized (the advice that follows is the same for all)."""
    if not result.problems:
        return "unknown reason"
    return normalize_message(result.problems[-1]).split(". ")[0].rstrip(".")


def _function_stats(
    function: str, graded: Sequence[SubmissionResult], solution_digests: Mapping[str, str]
) -> FunctionStats:
    stats = FunctionStats(function, FUNCTIONS[function].points if function in FUNCTIONS else 0.0)
    mistakes: Counter[str] = Counter()
    hints: dict[str, str] = {}
    messages: Counter[str] = Counter()
    failed_errors: list[float] = []
    by_digest: dict[str, list[str]] = defaultdict(list)
    nodes: dict[str, int] = {}
    for result in graded:
        check = next((c for c in result.checks if c.function == function), None)
        if check is None:
            continue
        stats.max_points = check.max_points
        stats.points.append(check.earned)
        stats.statuses[check.status] = stats.statuses.get(check.status, 0) + 1
        if check.threshold is not None:
            stats.threshold = check.threshold
        if check.status in ("failed", "partial") and check.rel_error is not None:
            failed_errors.append(check.rel_error)
        if check.mistake:
            mistakes[check.mistake] += 1
            hints.setdefault(check.mistake, check.hint)
        elif check.status not in ("passed", "not_implemented"):
            messages[normalize_message(check.message, function)] += 1
        if check.seconds is not None:
            stats.seconds.append(check.seconds)
        fp = result.fingerprints.get(function)
        if fp and int(fp.get("nodes", 0)) >= MIN_NODES:
            by_digest[str(fp["digest"])].append(result.student)
            nodes[str(fp["digest"])] = int(fp["nodes"])
    n = len(stats.points)

    def percent(count: int) -> float:
        return 100.0 * count / n if n else 0.0

    stats.median_failed_rel_error = statistics.median(failed_errors) if failed_errors else None
    known = {m.id: m for m in FUNCTIONS[function].mistakes} if function in FUNCTIONS else {}
    stats.mistakes = [
        MistakeRow(m, c, percent(c), hints[m], known[m].label if m in known else m.replace("_", " "))
        for m, c in _ranked(mistakes)
    ]
    stats.messages = [MessageRow(m, c, percent(c)) for m, c in _ranked(messages)]
    clusters = [
        Cluster(sorted(students), nodes[digest], solution_digests.get(function) == digest)
        for digest, students in by_digest.items()
        if len(students) >= 2
    ]
    stats.clusters = sorted(clusters, key=lambda c: (-len(c.students), c.students))
    return stats


def _submission_seconds(result: SubmissionResult) -> float | None:
    """Grading time of a submission; older results: the sum of its call times, if they have them."""
    if result.seconds is not None:
        return result.seconds
    calls = [c.seconds for c in result.checks if c.seconds is not None]
    return sum(calls) if calls else None


def _ranked(counter: Counter[str]) -> list[tuple[str, int]]:
    """Most frequent first, ties by name (stable across runs)."""
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))


def class_stats(results: Sequence[SubmissionResult], run: Mapping[str, Any] | None = None) -> ClassStats:
    """Compute the class report's numbers.

    Args:
        results: every submission's result (any order; one per notebook file).
        run: the run's settings (``run.json``); its ``solution_fingerprints`` mark clusters equal to
            the course solution.

    Returns:
        The numbers, deterministic for the same input (ties sorted by name).
    """
    run = dict(run or {})
    solution_digests = {str(k): str(v) for k, v in dict(run.get("solution_fingerprints", {})).items()}
    kinds = [submission_kind(r) for r in results]
    by_assignment: dict[str, list[SubmissionResult]] = defaultdict(list)
    for result in results:
        by_assignment[result.assignment or "unknown"].append(result)
    order = [a for a in NOTEBOOKS if a in by_assignment] + sorted(set(by_assignment) - set(NOTEBOOKS))
    assignments = []
    for name in order:
        members = by_assignment[name]
        graded = [r for r in members if submission_kind(r) == "graded"]
        functions = list(
            dict.fromkeys(
                list(function_names(name) if name in NOTEBOOKS else ())
                + [c.function for r in graded for c in r.checks]
            )
        )
        assignments.append(
            AssignmentStats(
                assignment=name,
                found=len(members),
                graded=len(graded),
                not_graded=sum(submission_kind(r) == "not_graded" for r in members),
                unreadable=sum(submission_kind(r) == "unreadable" for r in members),
                max_score=max((r.max_score for r in members), default=0.0),
                totals=[r.earned for r in graded],
                submission_seconds=[s for r in graded if (s := _submission_seconds(r)) is not None],
                functions=[_function_stats(f, graded, solution_digests) for f in functions],
            )
        )
    return ClassStats(
        found=len(results),
        graded=kinds.count("graded"),
        not_graded=kinds.count("not_graded"),
        unreadable=kinds.count("unreadable"),
        unreadable_reasons=dict(
            _ranked(Counter(_reason(r) for r, k in zip(results, kinds, strict=True) if k == "unreadable"))
        ),
        grader_errors=dict(
            _ranked(
                Counter(
                    normalize_message(r.grader_error)
                    for r, k in zip(results, kinds, strict=True)
                    if k == "not_graded"
                )
            )
        ),
        assignments=assignments,
        run=run,
    )
