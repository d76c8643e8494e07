"""Plain results of grading, written as JSON: what each check found and what a submission scored."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

__all__ = ["STATUSES", "CheckResult", "SubmissionResult"]

#: Every status a check can end in, in report order.
STATUSES = (
    "passed",
    "partial",
    "failed",
    "not_implemented",
    "error",
    "timeout",
    "memory",
    "crashed",
    "missing",
)


@dataclass
class CheckResult:
    """The outcome of one check of one student function.

    Attributes:
        function: the graded function, e.g. ``"gram_matrix"``.
        check: short name of the check, e.g. ``"values"``.
        points: points earned.
        max_points: points available.
        status: one of :data:`STATUSES`.
        message: what was found, in plain language.
        hint: what to look at to fix it (empty when passed).
        rel_error: measured relative error, when values were compared.
        threshold: the largest relative error accepted, when values were compared.
        mistake: id of the known mistake the output matched (empty when none).
        seconds: wall-clock time of the student's calls (``None`` in results from older versions).
        output: the end of what the student's function printed during the check (progress bars,
            warnings, debug prints), kept apart from the verdict's message.
    """

    function: str
    check: str
    points: float
    max_points: float
    status: str
    message: str
    hint: str = ""
    rel_error: float | None = None
    threshold: float | None = None
    mistake: str = ""
    seconds: float | None = None
    output: str = ""


@dataclass
class SubmissionResult:
    """Everything graded for one student's notebook.

    Attributes:
        student: student id (nbgrader folder, zip or file name).
        assignment: ``"NetworkVisualization"``, ``"StyleTransfer"`` or ``None`` if unknown.
        score: points earned.
        max_score: points available.
        checks: one result per check.
        problems: notebook-level problems (unreadable file, missing functions, cells skipped).
        source: the submitted file the result is for.
        grader_error: non-empty when the grader itself failed (e.g. the student-process template did
            not start): the score means nothing, and a rerun grades the submission again.
        seconds: wall-clock time of grading it (``None`` in results from older versions).
        protections: the sandbox protections that were active (see ``Sandbox.protections``).
        fingerprints: per graded function, its AST fingerprint for the class report's similarity
            section (:func:`autograder.class_report.similarity.fingerprint`); never shown to students.
        isolation: how the student code was isolated: ``"root"``, ``"user namespace"`` or
            ``"none"`` (graded unisolated, accepted with ``--allow-unisolated``); empty if unknown.
    """

    student: str
    assignment: str | None
    score: float
    max_score: float
    checks: list[CheckResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    source: str = ""
    grader_error: str = ""
    isolation: str = ""
    seconds: float | None = None
    protections: dict[str, str] = field(default_factory=dict)
    fingerprints: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> str:
        """Serialize to strict, ASCII JSON: a non-finite number (e.g. an infinite rel_error) becomes
        ``null``; every non-ASCII character is escaped, so a name read from a non-UTF-8 folder (its
        bytes kept as lone surrogates) round-trips exactly."""
        return json.dumps(_finite(asdict(self)), indent=2, allow_nan=False, ensure_ascii=True)

    @classmethod
    def from_json(cls, text: str) -> SubmissionResult:
        """Read back what :meth:`to_json` wrote (fields this version does not know are ignored).

        Raises:
            ValueError: not JSON, or not a result.
            TypeError: a field of the wrong kind.
        """
        data: dict[str, Any] = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a result: the JSON is not an object")
        data = _known(cls, data)
        checks = data.get("checks", [])
        if not isinstance(checks, list) or not all(isinstance(c, dict) for c in checks):
            raise TypeError("not a result: 'checks' is not a list of objects")
        data["checks"] = [CheckResult(**_known(CheckResult, c)) for c in checks]
        result = cls(**data)
        _check_types(result)
        return result


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def _number(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


def _check_types(result: SubmissionResult) -> None:
    """Raise ``TypeError`` unless every field read back has its declared kind (reports rely on it)."""
    ok = (
        isinstance(result.student, str)
        and (result.assignment is None or isinstance(result.assignment, str))
        and _number(result.score)
        and _number(result.max_score)
        and isinstance(result.problems, list)
        and all(isinstance(p, str) for p in result.problems)
        and isinstance(result.source, str)
        and isinstance(result.grader_error, str)
    )
    for c in result.checks:
        ok = ok and all(
            isinstance(v, str)
            for v in (c.function, c.check, c.status, c.message, c.hint, c.mistake, c.output)
        )
        ok = ok and _number(c.points) and _number(c.max_points)
        ok = ok and all(v is None or type(v) in (int, float) for v in (c.rel_error, c.threshold))
    if not ok:
        raise TypeError("not a result: a field has the wrong type")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
