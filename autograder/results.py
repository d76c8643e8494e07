"""Plain results of grading, written as JSON: what each check found and what a submission scored."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["STATUSES", "CheckResult", "SubmissionResult"]

#: Every status a check can end in.
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
        mistake: id of the known mistake recognised (``Verdict.mistake``), ``""`` when none was.
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
    """

    student: str
    assignment: str | None
    score: float
    max_score: float
    checks: list[CheckResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    source: str = ""
    grader_error: str = ""

    def to_json(self) -> str:
        """Serialize to a JSON string."""
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> SubmissionResult:
        """Read back what :meth:`to_json` wrote."""
        data: dict[str, Any] = json.loads(text)
        data["checks"] = [CheckResult(**c) for c in data.get("checks", [])]
        return cls(**data)
