"""Text edits of the solution cells that reproduce each named mistake (instructors' side).

A mistake's reproduction is solution code, so it lives beside the solution, never in the package
students install: in the metadata of the function's solution cell,

.. code-block:: json

    "metadata": {"nbgrader": {...},
                 "autograder": {"edits": {"gram_unnormalized": [["/ (H * W * C)", "/ 1"]]}}}

Each edit is a list of ``[old, new]`` literal replacements; every ``old`` must occur in the cell, and
every occurrence is replaced. The reference build runs the edited solution to get each mistake's
outputs (:mod:`autograder.reference_build`); the demo and the tests use the same edits to make a
student who makes the mistake. The release strips this metadata from the student notebooks.
"""

from __future__ import annotations

from collections.abc import Iterable

import nbformat

__all__ = ["EDITS_KEY", "apply_edits", "edits_of", "solution_cell"]

#: The cell-metadata key holding the edits (under it: ``{"edits": {name: [[old, new], ...]}}``).
EDITS_KEY = "autograder"


def solution_cell(nb: nbformat.NotebookNode, function: str) -> nbformat.NotebookNode:
    """The code cell whose nbgrader ``grade_id`` is ``function``.

    Raises:
        KeyError: no such cell.
    """
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade_id") == function:
            return cell
    raise KeyError(f"the notebook has no solution cell with grade_id {function!r}")


def edits_of(nb: nbformat.NotebookNode, function: str) -> dict[str, list[tuple[str, str]]]:
    """The named edits stored with ``function``'s solution cell (``{}`` when there are none)."""
    stored = solution_cell(nb, function).metadata.get(EDITS_KEY, {}).get("edits", {})
    return {name: [(str(old), str(new)) for old, new in pairs] for name, pairs in stored.items()}


def apply_edits(nb: nbformat.NotebookNode, edits: Iterable[tuple[str, str]]) -> nbformat.NotebookNode:
    """A copy of ``nb`` with the named edits ``(function, edit name)`` applied to their cells.

    Raises:
        KeyError: an edit that the cell's metadata does not hold.
        ValueError: an ``old`` text that no longer occurs in the cell (the solution changed: update the
            edit in the cell's metadata).
    """
    nb = nbformat.from_dict(nbformat.reads(nbformat.writes(nb), as_version=4))
    for function, name in edits:
        cell = solution_cell(nb, function)
        available = edits_of(nb, function)
        if name not in available:
            raise KeyError(
                f"the solution cell of {function} has no edit {name!r} in metadata.{EDITS_KEY}.edits "
                f"(it has: {', '.join(available) or 'none'})"
            )
        for old, new in available[name]:
            if old not in cell.source:
                raise ValueError(
                    f"edit {name!r} of {function}: {old!r} does not occur in the solution cell; update the "
                    f"edit in the cell's metadata.{EDITS_KEY}.edits to the new solution text"
                )
            cell.source = cell.source.replace(old, new)
    return nb
