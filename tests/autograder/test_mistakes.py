"""Tests of autograder.mistakes: every classic mistake is an edit that still applies to the solutions."""

from __future__ import annotations

import pytest

from autograder.course import FUNCTIONS
from autograder.mistakes import MISTAKES, Mistake, apply_mistakes, mistakes_for
from tests.helpers.notebooks import solution_cell, solution_nb


@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda m: m.name)
def test_every_mistake_edits_its_solution_cell(mistake: Mistake) -> None:
    """Does each mistake's pattern match its function's solution cell, and change only that cell?"""
    assert mistake.function in FUNCTIONS and FUNCTIONS[mistake.function].notebook == mistake.notebook
    original = solution_nb(mistake.notebook)
    edited = apply_mistakes(original, [mistake])
    changed = [
        i for i, (a, b) in enumerate(zip(original.cells, edited.cells, strict=True)) if a.source != b.source
    ]
    assert changed == [original.cells.index(solution_cell(original, mistake.function))]


def test_a_pattern_that_no_longer_matches_is_named() -> None:
    """When a solution is rewritten so a pattern stops matching, does apply_mistakes say which one?"""
    stale = Mistake("stale", "StyleTransfer", "tv_loss", r"this text is nowhere", "x", "failed", "", "")
    with pytest.raises(ValueError, match="stale"):
        apply_mistakes(solution_nb("StyleTransfer"), [stale])


def test_mistakes_for_filters_by_notebook() -> None:
    """Does mistakes_for return exactly the mistakes of one notebook?"""
    for notebook in ("NetworkVisualization", "StyleTransfer"):
        assert {m.name for m in mistakes_for(notebook)} == {
            m.name for m in MISTAKES if m.notebook == notebook
        }
