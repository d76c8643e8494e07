"""The status a check of one student function ends in, with its label and colour.

One enumeration for every writer (gradebook, feedback, Gradescope, class report, grade table). It is
a :class:`~enum.StrEnum`: a status *is* its string (``Status.PASSED == "passed"``), so checks that
produce plain strings and results read back from JSON keep working unchanged. Members are in report
order.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Status", "status_label"]


class Status(StrEnum):
    """Every status a check can end in.

    Attributes:
        label: what readers see, in lower case (``"timed out"``); writers capitalize it as they need.
        color: the colour of the status in HTML reports (a CSS hex colour).
    """

    PASSED = "passed", "passed", "#2e7d32"
    PARTIAL = "partial", "partial credit", "#f9a825"
    FAILED = "failed", "failed", "#c62828"
    NOT_IMPLEMENTED = "not_implemented", "not implemented", "#9e9e9e"
    ERROR = "error", "error", "#6a1b9a"
    TIMEOUT = "timeout", "timed out", "#1565c0"
    MEMORY = "memory", "out of memory", "#00838f"
    CRASHED = "crashed", "crashed", "#4e342e"
    MISSING = "missing", "missing", "#616161"

    label: str
    color: str

    def __new__(cls, value: str, label: str, color: str) -> Status:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        member.color = color
        return member


def status_label(status: str) -> str:
    """The label of ``status`` (a :class:`Status` or its string); an unknown string is shown as it is."""
    try:
        return Status(status).label
    except ValueError:
        return str(status)
