"""Who submitted what, for which assignment, and which of a student's notebooks is graded.

**The student comes from the layout, never from depth or file times.** The student is the *top-level*
entry under the submissions root: a folder (nbgrader's ``submitted/<student>/``) and everything inside
it, however deep, belongs to that student; a top-level notebook or zip is the student named by its
stem. Given one student's folder (:func:`single_student`), everything in it is that student's. So
nothing inside one student's folder can create, replace or change another row: a planted
``alice/StyleTransfer/StyleTransfer.ipynb`` inside mallory's folder is mallory's.

**One notebook per student and assignment** (:func:`resolve_duplicates`): among a student's notebooks
of one assignment, the graded one is the first by :func:`duplicate_rank`: one that could be read,
then the one at nbgrader's place ``<student>/<assignment>/<assignment>.ipynb``, then the one with
the fewest folders (and zips) above it, then the one named exactly ``<assignment>.ipynb``, then the
first path in sorted order. File times are never used (a student sets them). The others are named in
the graded one's problems, so the student and the instructor see them.

**The assignment** is nbgrader's folder right under the student, else the file's name
(:func:`assignment_of`), else guessed from the functions the notebook defines (:func:`guess_assignment`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat

from autograder.course import NOTEBOOKS
from autograder.functions import function_names

if TYPE_CHECKING:  # the data these rules read; submission.py imports this module
    from autograder.grading.submission import Submission

__all__ = [
    "assignment_from_name",
    "assignment_of",
    "duplicate_rank",
    "guess_assignment",
    "is_skipped",
    "known_assignment",
    "nbgrader_student",
    "resolve_duplicates",
    "single_student",
]

#: Folders and files that belong to no one: archive junk, Jupyter's checkpoints, hidden entries.
_SKIPPED_PARTS = {"__MACOSX", ".ipynb_checkpoints", "__pycache__"}


def is_skipped(name: str) -> bool:
    """Whether a file or folder name is junk that is never a submission (``__MACOSX``, ``.x``)."""
    return name in _SKIPPED_PARTS or name.startswith(".")


def _normalize(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def assignment_from_name(name: str) -> str | None:
    """An assignment named in a file or folder name (``network_visualization``, ``StyleTransfer-v2``)."""
    key = _normalize(name)
    for assignment in NOTEBOOKS:
        if _normalize(assignment) in key:
            return assignment
    return None


def assignment_of(place: tuple[str, ...]) -> str | None:
    """The assignment named by a file's place under its student: nbgrader's ``<assignment>/`` folder
    right under the student, else the file's own name (``style_transfer (2).ipynb``)."""
    folder = assignment_from_name(place[0]) if len(place) > 1 else None
    return folder or assignment_from_name(Path(place[-1]).stem)


def known_assignment(assignment: str | None) -> str | None:
    """``assignment`` as one of the course's notebooks, or ``None``."""
    return assignment if assignment in NOTEBOOKS else assignment_from_name(assignment or "")


def _defined_names(nb: nbformat.NotebookNode) -> set[str]:
    names: set[str] = set()
    for cell in nb.get("cells", []):
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            names.update(re.findall(r"^\s*def\s+(\w+)\s*\(", str(cell.get("source", "")), flags=re.M))
    return names


def guess_assignment(nb: nbformat.NotebookNode) -> str | None:
    """The assignment whose graded functions the notebook defines most of, ``None`` if none."""
    names = _defined_names(nb)
    counts = {a: len(names.intersection(function_names(a))) for a in NOTEBOOKS}
    best = max(counts, key=lambda a: counts[a])
    return best if counts[best] > 0 else None


def nbgrader_student(folder: Path) -> str | None:
    """The student of nbgrader's ``submitted/<student>/...`` that ``folder`` is or lies in, if any."""
    parts = folder.resolve().parts
    if "submitted" not in parts[:-1]:
        return None
    return parts[len(parts) - parts[::-1].index("submitted", 1)]


def single_student(root: Path) -> str | None:
    """The student whose folder ``root`` is, when the instructor gave one student's folder: ``root``
    lies inside nbgrader's ``submitted/`` (the student is the folder right under the nearest
    ``submitted``), or every top-level entry of ``root`` is an assignment's folder
    (``alice/StyleTransfer/...``: the student is ``root``'s name). The root and its ancestors are the
    instructor's choice; a student's own folders never decide whose they are."""
    student = nbgrader_student(root)
    if student is not None:
        return student
    try:
        with os.scandir(root) as it:
            entries = [e for e in it if not is_skipped(e.name)]
    except OSError:
        return None
    if entries and all(e.is_dir(follow_symlinks=False) and assignment_from_name(e.name) for e in entries):
        return root.name
    return None


def duplicate_rank(submission: Submission) -> tuple[bool, bool, int, bool, str]:
    """Sort key among one student's notebooks of one assignment: the first is graded.

    In order: one that could be read; the one at nbgrader's place ``<assignment>/<assignment>.ipynb``
    under the student's folder; the fewest folders (and zips) above it; the one named exactly
    ``<assignment>.ipynb``; the first path in sorted order. Never file times (a student sets them).
    """
    exact = f"{submission.assignment}.ipynb"
    canonical = submission.place == (submission.assignment, exact)
    return (
        submission.notebook is None,
        not canonical,
        len(submission.place),
        submission.path.name != exact,
        str(submission.path),
    )


def resolve_duplicates(submissions: Iterable[Submission]) -> list[Submission]:
    """One submission per (student, assignment), chosen by :func:`duplicate_rank`; the others are
    named in its problems, so the student and the instructor see what was not graded.

    Returns:
        The graded submissions, in the order of their first file.
    """
    groups: dict[tuple[str, str | None], list[Submission]] = {}
    for submission in submissions:
        groups.setdefault((submission.student, submission.assignment), []).append(submission)
    kept = []
    for group in groups.values():
        winner = min(group, key=duplicate_rank)
        if len(group) > 1:
            others = ", ".join(sorted("/".join(s.place) or s.path.name for s in group if s is not winner))
            nbgrader = f"{winner.assignment or 'ASSIGNMENT'}/{winner.assignment or 'ASSIGNMENT'}.ipynb"
            winner.problems.append(
                f"{len(group)} files were submitted for this assignment; graded "
                f"{'/'.join(winner.place) or winner.path.name} (a readable notebook comes first, then "
                f"one at {nbgrader}, then the least nested, then the exact name), and not: {others}"
            )
        kept.append(winner)
    return kept
