"""A check of ``results.json`` against Gradescope's documented fields.

Source: https://gradescope-autograders.readthedocs.io/en/latest/specs/ ("Output format",
"Controlling test case visibility", "Test case status", "Output string formatting"). Gradescope
ignores unknown keys silently, so a misspelt one (``"max_points"``) would go unnoticed there: here it
is an error. The leaderboard fields are not used by this course and are not checked.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["OUTPUT_FORMATS", "STATUSES", "VISIBILITIES", "validate_results"]

#: Values of ``visibility`` (top level and per test) and of ``stdout_visibility``.
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
#: Values of a test's ``status``; without one Gradescope decides from score and max_score.
STATUSES = ("passed", "failed")
#: Values of ``output_format``, ``test_output_format``, ``test_name_format`` and ``name_format``.
OUTPUT_FORMATS = ("text", "html", "simple_format", "md", "ansi")

_TOP = {
    "score": "number",
    "execution_time": "number",
    "output": "string",
    "output_format": "format",
    "test_output_format": "format",
    "test_name_format": "format",
    "visibility": "visibility",
    "stdout_visibility": "visibility",
    "extra_data": "object",
    "tests": "tests",
    "leaderboard": "list",
}
_TEST = {
    "score": "number",
    "max_score": "number",
    "status": "status",
    "name": "string",
    "name_format": "format",
    "number": "string",
    "output": "string",
    "output_format": "format",
    "tags": "strings",
    "visibility": "visibility",
    "extra_data": "object",
}


def _problem(kind: str, value: Any) -> str | None:
    """What is wrong with ``value`` for a field of ``kind``, or ``None``."""
    if kind == "number":
        ok = type(value) in (int, float) and math.isfinite(value)
        return None if ok else f"must be a finite number, not {value!r}"
    if kind == "string":
        return None if isinstance(value, str) else f"must be a string, not {type(value).__name__}"
    if kind == "object":
        return None if isinstance(value, dict) else "must be an object"
    if kind == "list":
        return None if isinstance(value, list) else "must be a list"
    if kind == "strings":
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        return None if ok else "must be a list of strings"
    choices = {"visibility": VISIBILITIES, "status": STATUSES, "format": OUTPUT_FORMATS}.get(kind)
    if choices is not None:
        return None if value in choices else f"must be one of {', '.join(choices)}, not {value!r}"
    return None


def validate_results(data: Any) -> list[str]:
    """Every way ``data`` departs from Gradescope's ``results.json`` format; empty when it is valid.

    Checked: only documented keys; types and allowed values of each; ``tests`` a list of objects;
    a score at the top level or on every test (Gradescope needs one of them); scores not above
    ``max_score``; test ``number``\\ s unique.
    """
    if not isinstance(data, dict):
        return ["results.json must be a JSON object"]
    problems = [f"unknown top-level key {k!r}" for k in data if k not in _TOP]
    for key, kind in _TOP.items():
        if key in data and kind != "tests":
            why = _problem(kind, data[key])
            if why:
                problems.append(f"{key} {why}")
    tests = data.get("tests", [])
    if not isinstance(tests, list):
        return [*problems, "tests must be a list"]
    numbers: list[str] = []
    for i, test in enumerate(tests):
        where = f"tests[{i}]"
        if not isinstance(test, dict):
            problems.append(f"{where} must be an object")
            continue
        where = f"tests[{i}] ({test.get('name', '?')})"
        problems += [f"{where}: unknown key {k!r}" for k in test if k not in _TEST]
        for key, kind in _TEST.items():
            if key in test:
                why = _problem(kind, test[key])
                if why:
                    problems.append(f"{where}: {key} {why}")
        score, top = test.get("score"), test.get("max_score")
        if isinstance(score, int | float) and isinstance(top, int | float) and score > top + 1e-9:
            problems.append(f"{where}: score {score} is above max_score {top}")
        if "number" in test:
            numbers.append(str(test["number"]))
    if "score" not in data and any(isinstance(t, dict) and "score" not in t for t in tests):
        problems.append("no top-level score, and not every test has one")
    duplicated = sorted({n for n in numbers if numbers.count(n) > 1})
    if duplicated:
        problems.append(f"test numbers used twice: {', '.join(duplicated)}")
    return problems
