"""Find submissions: notebooks, folders, nbgrader's ``submitted/`` layout and zips.

Who submitted what is :mod:`autograder.grading.identity` (the student is the top-level folder or file,
never decided by depth or file times); reading one notebook is :mod:`autograder.notebook_io.files`.
Neither raises on a bad file: whatever is wrong becomes a plain-language line in
:attr:`Submission.problems`, and :attr:`Submission.notebook` is ``None`` when nothing usable could be
read.

Discovery never follows a symbolic link and never opens anything but a regular file: a link or a
FIFO named ``*.ipynb`` gets a row with a problem, not a grade, a hang or silence. Zips are read in
memory, streamed with a running byte cap: nothing is unpacked to disk. Every cost is bounded by
:class:`autograder.settings.InputCaps`.
"""

from __future__ import annotations

import os
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.grading.identity import (
    assignment_of,
    guess_assignment,
    is_skipped,
    known_assignment,
    nbgrader_student,
    single_student,
)
from autograder.notebook_io.files import file_kind, read_notebook, read_notebook_bytes, too_big
from autograder.settings import InputCaps

__all__ = ["Submission", "discover_submissions"]


@dataclass
class Submission:
    """One submitted notebook, as read from disk.

    Attributes:
        student: the student's id: the top-level folder under the submissions root, else the
            top-level zip's or notebook's stem (:mod:`autograder.grading.identity`).
        assignment: ``"NetworkVisualization"``, ``"StyleTransfer"``, or ``None`` when unknown.
        path: the ``.ipynb`` file; for a zip member, ``<zip>/<member name>`` (a name, not a file on
            disk); the zip itself when it held none.
        notebook: the notebook as nbformat v4 with outputs removed, ``None`` when unreadable.
        problems: plain-language problems met while reading.
        place: where the file sits under the student's folder (folders, zips and zip folders, then
            the file's name), e.g. ``("StyleTransfer", "StyleTransfer.ipynb")`` for nbgrader's
            layout; ``(name,)`` for a top-level file. Ranks a student's duplicates.
    """

    student: str
    assignment: str | None
    path: Path
    notebook: nbformat.NotebookNode | None
    problems: list[str] = field(default_factory=list)
    place: tuple[str, ...] = ()


def _iter_entries(folder: Path) -> Iterator[tuple[Path, os.DirEntry]]:
    """Every ``*.ipynb`` / ``*.zip`` entry under ``folder``, sorted, without following symbolic links.

    Entries of any kind are yielded (links, FIFOs, sockets), so that each gets a row; folders that
    are links are not entered, hidden and checkpoint folders are skipped.
    """
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if is_skipped(entry.name):
            continue
        path = Path(entry.path)
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
        except OSError:
            is_dir = False
        if is_dir:
            yield from _iter_entries(path)
        elif path.suffix.lower() in (".ipynb", ".zip"):
            yield path, entry


def _submission(
    path: Path,
    student: str,
    assignment: str | None,
    read: tuple[nbformat.NotebookNode | None, list[str]],
    problems: list[str],
    place: tuple[str, ...],
) -> Submission:
    nb, read_problems = read
    problems = [*problems, *read_problems]
    known = known_assignment(assignment)
    if known is None and nb is not None:
        known = guess_assignment(nb)
        if known:
            problems.append(f"assignment {known} guessed from the functions the notebook defines")
    if known is None:
        problems.append(
            "could not tell which assignment this is (name the file NetworkVisualization.ipynb or "
            "StyleTransfer.ipynb, and keep the graded function names)"
        )
    return Submission(student, known, path, nb, problems, place)


def _unread(
    path: Path, student: str, assignment: str | None, problem: str, place: tuple[str, ...]
) -> Submission:
    """A row for a file that yields no notebook, with its problem."""
    return Submission(student, known_assignment(assignment), path, None, [problem], place)


def _read_member(
    archive: zipfile.ZipFile, member: zipfile.ZipInfo, budget: list[int], cap: int
) -> bytes | None:
    """A member's bytes, streamed: ``None`` once it passes ``cap`` or the zip's remaining ``budget``."""
    chunks = []
    size = 0
    with archive.open(member) as src:
        while chunk := src.read(1 << 20):
            size += len(chunk)
            budget[0] -= len(chunk)
            if size > cap or budget[0] < 0:
                return None
            chunks.append(chunk)
    return b"".join(chunks)


def _from_zip(
    path: Path, student: str, assignment: str | None, caps: InputCaps, place: tuple[str, ...]
) -> list[Submission]:
    """One submission per notebook in the zip, read in memory with running byte caps (nothing on disk).

    A member's assignment comes from its own place (the zip's folder under the student, then the
    member's folders and name), as a file's would.
    """
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode):
            why = f"{path.name} is not a regular file ({file_kind(info.st_mode)})"
            return [_unread(path, student, assignment, why, place)]
        if info.st_size > caps.zip_bytes:
            return [
                _unread(path, student, assignment, too_big(path.name, info.st_size, caps.zip_bytes), place)
            ]
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            if len(infos) > caps.zip_members:
                why = (
                    f"{path.name} holds {len(infos)} entries, more than the {caps.zip_members} accepted: "
                    "zip only your notebooks"
                )
                return [_unread(path, student, assignment, why, place)]
            members = [
                m
                for m in infos
                if not m.is_dir()
                and m.filename.lower().endswith(".ipynb")
                and not any(is_skipped(p) for p in Path(m.filename).parts)
            ]
            if not members:
                return [_unread(path, student, assignment, f"{path.name}: the zip holds no notebook", place)]
            problems = []
            if len(members) > caps.zip_notebooks:
                problems.append(
                    f"{path.name} holds {len(members)} notebooks; "
                    f"only the first {caps.zip_notebooks} were read"
                )
                members = members[: caps.zip_notebooks]
            budget = [caps.zip_unpacked_bytes]
            out = []
            for member in members:
                member_path = path / member.filename  # names the member; never a file on disk
                member_place = (*place, *(p for p in Path(member.filename).parts if p not in ("..", "/")))
                zip_assignment = assignment or assignment_of(member_place)
                raw = _read_member(archive, member, budget, caps.notebook_bytes)
                if raw is None:
                    limit = min(caps.notebook_bytes, caps.zip_unpacked_bytes)
                    why = (
                        f"{member.filename} in {path.name} unpacks to more than {limit / 2**20:.0f} MB; "
                        "it was not read (clear the outputs, zip again and resubmit)"
                    )
                    out.append(_unread(member_path, student, zip_assignment, why, member_place))
                    out[-1].problems[:0] = problems
                    break  # the zip's budget is spent
                read = read_notebook_bytes(raw, Path(member.filename).name, caps)
                del raw
                notes = [*problems, f"{member.filename} read from {path.name}"]
                out.append(_submission(member_path, student, zip_assignment, read, notes, member_place))
            return out
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        OSError,
        EOFError,
        NotImplementedError,
        RuntimeError,
        ValueError,
    ) as exc:
        return [_unread(path, student, assignment, f"{path.name} is not a readable zip file: {exc}", place)]


def _discover_one(
    path: Path, student: str, assignment: str | None, caps: InputCaps, place: tuple[str, ...]
) -> list[Submission]:
    """The submissions in one discovered file (a notebook, a zip, or whatever wears their names)."""
    if path.is_symlink():
        why = f"{path.name} is a symbolic link; links are never followed. Submit the file itself."
        return [_unread(path, student, assignment, why, place)]
    if path.suffix.lower() == ".zip":
        return _from_zip(path, student, assignment, caps, place)
    return [_submission(path, student, assignment, read_notebook(path, caps), [], place)]


def _identified(root: Path) -> Iterator[tuple[Path, str, tuple[str, ...]]]:
    """Every candidate file under ``root`` with its student and its place under the student's folder."""
    owner = single_student(root)
    for file, _entry in _iter_entries(root):
        rel = file.relative_to(root).parts
        if owner is not None:  # all of root belongs to one student
            yield file, owner, rel
        elif len(rel) == 1:  # a top-level notebook or zip: the student named by its stem
            yield file, file.stem, rel
        else:  # a top-level folder: that student's, however deep the file sits
            yield file, rel[0], rel[1:]


def discover_submissions(path: Path, caps: InputCaps | None = None) -> list[Submission]:
    """Find every submission under ``path``; never raises because of a bad file.

    Accepts a notebook, a zip, a folder of notebooks or zips (one per student, student = file
    stem), a folder per student, and nbgrader's ``submitted/<student>/<assignment>/*.ipynb``
    layout (``path`` may be the course folder, ``submitted/`` or one student's folder). The student
    is always the top-level folder or file (module docstring): what lies inside a student's folder
    is that student's, whatever its folders are called. Symbolic links inside the tree are never
    followed: a link named like a submission gets a row with a problem, a linked folder is not
    entered. Anything else named ``*.ipynb`` or ``*.zip`` (a FIFO, a socket, a folder) gets a row
    with its problem too.

    Args:
        path: what to grade.
        caps: input caps (default :class:`~autograder.settings.InputCaps`).

    Returns:
        One :class:`Submission` per notebook found, in a stable (sorted) order; a zip without a
        notebook or an unreadable file still yields one, with its problems. Duplicates are kept
        (see :func:`resolve_duplicates`).

    Raises:
        FileNotFoundError: ``path`` does not exist.
    """
    caps = caps or InputCaps()
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: give a notebook, a zip or a folder of submissions")
    if not path.is_dir():
        student = nbgrader_student(path.parent)  # one notebook of nbgrader's submitted/<student>/...
        place = (path.name,)
        return _discover_guarded(path, student or path.stem, assignment_of(place), caps, place)
    root = path / "submitted" if (path / "submitted").is_dir() else path
    submissions: list[Submission] = []
    for file, student, place in _identified(root):
        submissions.extend(_discover_guarded(file, student, assignment_of(place), caps, place))
    return submissions


def _discover_guarded(
    path: Path, student: str, assignment: str | None, caps: InputCaps, place: tuple[str, ...]
) -> list[Submission]:
    """:func:`_discover_one`, with any unexpected failure as that file's problem (the batch goes on)."""
    try:
        return _discover_one(path, student, assignment, caps, place)
    except Exception as exc:  # a reader's bug on odd input must cost this file only
        why = f"{path.name} could not be read ({type(exc).__name__}: {exc})"
        return [_unread(path, student, assignment, why, place)]
