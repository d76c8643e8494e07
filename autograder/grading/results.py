"""Plain results of grading, written as JSON: what each check found and what a submission scored.

Every writer reads points through :attr:`CheckResult.earned` and :attr:`SubmissionResult.earned`, so
a total is clamped to ``[0, maximum]`` the same way in the gradebook, the feedback, Gradescope, the
class report and the grade table, whatever a result file says.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

__all__ = ["PRINTED_HEADING", "CheckResult", "SubmissionResult", "clamp"]

#: Heading of :attr:`CheckResult.output` wherever feedback shows it (checks that did not pass only).
PRINTED_HEADING = "What your function printed during the check (its end):"


def clamp(points: float, max_points: float) -> float:
    """``points`` within ``[0, max_points]``: what any writer shows and adds up."""
    return min(max(points, 0.0), max(max_points, 0.0))


@dataclass
class CheckResult:
    """The outcome of one check of one student function.

    Attributes:
        function: the graded function, e.g. ``"gram_matrix"``.
        check: short name of the check, e.g. ``"values"``.
        points: points earned.
        max_points: points available.
        status: a :class:`autograder.status.Status` (stored as its string).
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

    @property
    def earned(self) -> float:
        """:attr:`points` clamped to ``[0, max_points]``."""
        return clamp(self.points, self.max_points)


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
            section (:func:`autograder.grading.similarity.fingerprint`); never shown to students.
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

    @property
    def earned(self) -> float:
        """:attr:`score` clamped to ``[0, max_score]``."""
        return clamp(self.score, self.max_score)

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
            TypeError: a field of the wrong kind (every field is checked: writers rely on it).
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


def _optional_number(value: Any) -> bool:
    return value is None or type(value) in (int, float)


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _fingerprint(value: Any) -> bool:
    return (
        isinstance(value, dict) and isinstance(value.get("digest"), str) and type(value.get("nodes")) is int
    )


def _check_types(result: SubmissionResult) -> None:
    """Raise ``TypeError`` unless every field read back has its declared kind (reports rely on it)."""
    ok = (
        isinstance(result.student, str)
        and (result.assignment is None or isinstance(result.assignment, str))
        and _number(result.score)
        and _number(result.max_score)
        and _strings(result.problems)
        and isinstance(result.source, str)
        and isinstance(result.grader_error, str)
        and isinstance(result.isolation, str)
        and _optional_number(result.seconds)
        and isinstance(result.protections, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in result.protections.items())
        and isinstance(result.fingerprints, dict)
        and all(isinstance(k, str) and _fingerprint(v) for k, v in result.fingerprints.items())
    )
    for c in result.checks:
        ok = ok and all(
            isinstance(v, str)
            for v in (c.function, c.check, c.status, c.message, c.hint, c.mistake, c.output)
        )
        ok = ok and _number(c.points) and _number(c.max_points)
        ok = ok and all(_optional_number(v) for v in (c.rel_error, c.threshold, c.seconds))
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
