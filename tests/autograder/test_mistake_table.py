"""docs/grading.md's table of named mistakes and credit is the one the checks give."""

from __future__ import annotations

from autograder.mistake_table import BEGIN, END, mistake_table
from tests.helpers.notebooks import REPO


def test_docs_table_is_the_generated_one() -> None:
    """Is the table in docs/grading.md exactly `python -m autograder mistakes` (else paste it there)?"""
    text = (REPO / "docs" / "grading.md").read_text(encoding="utf-8")
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    assert text[start:end].strip() == mistake_table()
