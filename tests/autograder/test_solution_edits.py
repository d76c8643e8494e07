"""Tests of autograder.solution_edits: the mistakes' edits live with the solution cells and still apply."""

from __future__ import annotations

import nbformat
import pytest

from autograder.solution_edits import EDITS_KEY, apply_edits, edits_of
from tests.helpers.notebooks import EditCase, edit_cases, solution_cell, solution_nb


@pytest.mark.parametrize("case", edit_cases(include=("no_stop",)), ids=str)
def test_every_edit_changes_only_its_solution_cell(case: EditCase) -> None:
    """Does each stored edit apply to its function's cell, and change that cell only?"""
    original = solution_nb(case.notebook)
    edited = apply_edits(original, [(case.function, case.edit)])
    changed = [
        i for i, (a, b) in enumerate(zip(original.cells, edited.cells, strict=True)) if a.source != b.source
    ]
    assert changed == [original.cells.index(solution_cell(original, case.function))]


def test_an_edit_that_no_longer_applies_is_named(tmp_path) -> None:
    """When a solution is rewritten so that an edit's text is gone, does the error say which edit?"""
    nb = solution_nb("StyleTransfer")
    solution_cell(nb, "tv_loss").metadata[EDITS_KEY]["edits"]["stale"] = [["this text is nowhere", "x"]]
    with pytest.raises(ValueError, match="edit 'stale' of tv_loss"):
        apply_edits(nb, [("tv_loss", "stale")])
    with pytest.raises(KeyError, match="no edit 'absent'"):
        apply_edits(nb, [("tv_loss", "absent")])


def test_edits_are_read_as_pairs_and_the_original_is_untouched() -> None:
    """Are edits read as (old, new) pairs, and does applying them leave the given notebook as it was?"""
    nb = solution_nb("StyleTransfer")
    before = nbformat.writes(nb)
    assert all(
        isinstance(pair, tuple) and len(pair) == 2
        for pairs in edits_of(nb, "gram_matrix").values()
        for pair in pairs
    )
    apply_edits(nb, [("gram_matrix", "gram_unnormalized")])
    assert nbformat.writes(nb) == before
