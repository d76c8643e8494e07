"""What a student uploaded to Gradescope, and which file is graded as which notebook.

Students upload ``StyleTransfer (1).ipynb`` (the browser renamed a second download), both notebooks
at once, a zip, or the wrong file. :func:`select_upload` reads the submission folder (notebooks and
zips, through :func:`autograder.grading.submission.discover_submissions`), keeps one notebook per expected
assignment (the exactly named one first) and copies it to ``<assignment>.ipynb`` in a staging
folder that the batch grader then grades. :class:`Upload` records what was found for the message
students see at once.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

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
    """

    files: list[str] = field(default_factory=list)
    graded: dict[str, str] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


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


def _rank(sub: Submission, assignment: str) -> tuple[int, int, str]:
    """Sort key: readable first, then the exact file name, then by name."""
    return (sub.notebook is None, sub.path.name != f"{assignment}.ipynb", sub.path.name)


def select_upload(folder: Path, workdir: Path, assignments: Sequence[str]) -> tuple[Upload, Path]:
    """Pick one uploaded notebook per assignment and stage it for grading.

    Args:
        folder: the submission folder (``/autograder/submission``).
        workdir: a scratch folder (created); zips are unpacked and notebooks staged inside it.
        assignments: the notebooks this Gradescope assignment grades, e.g. ``["StyleTransfer"]``.

    Returns:
        ``(upload, staged)``: what was found, and a folder holding ``<assignment>.ipynb`` for each
        assignment found (grade it with :func:`autograder.grading.batch.grade_path`).
    """
    folder, workdir = Path(folder), Path(workdir)
    upload = Upload()
    if folder.is_dir():
        upload.files = sorted(
            str(p.relative_to(folder))
            for p in folder.rglob("*")
            if p.is_file() and not any(part in _SKIPPED for part in p.relative_to(folder).parts)
        )
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
        chosen, *others = sorted(subs, key=lambda s: _rank(s, assignment))
        upload.graded[assignment] = _display(chosen, folder, unpacked)
        upload.problems += [p for p in chosen.problems if " read from " not in p]
        upload.ignored += [
            f"{_display(s, folder, unpacked)} (another {assignment} notebook; "
            f"{upload.graded[assignment]} was graded)"
            for s in others
        ]
        if chosen.path.is_file() and chosen.path.suffix.lower() == ".ipynb":
            shutil.copyfile(chosen.path, staged / f"{assignment}.ipynb")
        elif chosen.notebook is not None:  # a notebook read from an uploaded zip
            nbformat.write(chosen.notebook, staged / f"{assignment}.ipynb")
    return upload, staged
