"""What a student uploaded to Gradescope, and which file is graded as which notebook.

Students upload ``StyleTransfer (1).ipynb`` (the browser renamed a second download), both notebooks
at once, a zip, or the wrong file. :func:`select_upload` reads the submission folder (notebooks and
zips, through :func:`autograder.grading.submission.discover_submissions`), keeps one notebook per
expected assignment (by :func:`~autograder.grading.submission.duplicate_rank`: a readable one first,
then the least nested, then the exact name) and writes the notebook it *read* to
``<assignment>.ipynb`` in a staging folder that the batch grader then grades. Nothing in the upload
is ever followed or copied as a path: a symbolic link is listed as one and graded as unreadable
(its target is never read). :class:`Upload` records what was found for the message students see at
once.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.grading.identity import duplicate_rank
from autograder.grading.submission import Submission, discover_submissions

__all__ = ["Upload", "select_upload"]

_SKIPPED = {"__MACOSX", ".ipynb_checkpoints"}


@dataclass
class Upload:
    """What was uploaded and what of it is graded (plain data, written into ``extra_data``).

    Attributes:
        files: every uploaded file, relative to the submission folder.
        graded: assignment -> the uploaded file graded for it.
        ignored: uploaded notebooks not graded, with the reason, e.g.
            ``"notes.ipynb (not a notebook of this assignment)"``.
        missing: expected assignments for which no notebook was found.
        problems: what went wrong reading the graded notebooks (unreadable file, guessed assignment).
        unreadable: expected assignments whose chosen upload could not be read (a symbolic link, not
            a notebook...): graded 0 with its problems, nothing staged.
    """

    files: list[str] = field(default_factory=list)
    graded: dict[str, str] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


def _listing(folder: Path) -> list[str]:
    """Every uploaded file, relative to ``folder``, without following a symbolic link (a link is
    listed as one, never entered or read)."""
    files = []
    for parent, dirs, names in os.walk(folder, followlinks=False):
        here = Path(parent)
        dirs[:] = [d for d in dirs if d not in _SKIPPED]
        for name in [*names, *(d for d in dirs if (here / d).is_symlink())]:
            rel = str((here / name).relative_to(folder))
            files.append(f"{rel} (a symbolic link, not followed)" if (here / name).is_symlink() else rel)
    return sorted(files)


def _display(sub: Submission, folder: Path, workdir: Path) -> str:
    try:
        return str(sub.path.relative_to(folder))
    except ValueError:
        pass
    if not sub.path.is_file():  # a notebook read from an uploaded zip: <zip>/<member>
        for problem in sub.problems:
            if " read from " in problem:
                return problem.replace(" read from ", " in ")
    return sub.path.name


def select_upload(folder: Path, workdir: Path, assignments: Sequence[str]) -> tuple[Upload, Path]:
    """Pick one uploaded notebook per assignment and stage it for grading.

    Args:
        folder: the submission folder (``/autograder/submission``).
        workdir: a scratch folder (created); zips are unpacked and notebooks staged inside it.
        assignments: the notebooks this Gradescope assignment grades, e.g. ``["StyleTransfer"]``.

    Returns:
        ``(upload, staged)``: what was found, and a folder holding ``<assignment>.ipynb`` for each
        assignment found (grade it with :func:`autograder.grading.batch.grade_submissions`).
    """
    folder, workdir = Path(folder), Path(workdir)
    upload = Upload()
    if folder.is_dir() and not folder.is_symlink():
        upload.files = _listing(folder)
    unpacked = workdir / "unpacked"  # only names: zips are read in memory
    found = discover_submissions(folder) if upload.files else []
    candidates: dict[str, list[Submission]] = {a: [] for a in assignments}
    for sub in found:
        if sub.assignment in candidates:
            candidates[sub.assignment].append(sub)
        else:
            what = sub.assignment or "not a notebook of this course"
            upload.ignored.append(f"{_display(sub, folder, unpacked)} ({what}; not graded here)")
    staged = workdir / "staged"
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir(parents=True)
    for assignment, subs in candidates.items():
        if not subs:
            upload.missing.append(assignment)
            continue
        chosen, *others = sorted(subs, key=duplicate_rank)
        upload.graded[assignment] = _display(chosen, folder, unpacked)
        upload.problems += [p for p in chosen.problems if " read from " not in p]
        upload.ignored += [
            f"{_display(s, folder, unpacked)} (another {assignment} notebook; "
            f"{upload.graded[assignment]} was graded)"
            for s in others
        ]
        if chosen.notebook is not None:  # what was read (O_NOFOLLOW, regular files only), never a path
            nbformat.write(chosen.notebook, staged / f"{assignment}.ipynb")
        else:
            upload.unreadable.append(assignment)
    return upload, staged
