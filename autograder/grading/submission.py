"""Find submissions: notebooks, folders, nbgrader's ``submitted/`` layout and zips.

Reading one notebook is :mod:`autograder.grading.notebook_file`. Neither raises on a bad file:
whatever is wrong becomes a plain-language line in :attr:`Submission.problems`, and
:attr:`Submission.notebook` is ``None`` when nothing usable could be read.

Discovery never follows a symbolic link and never opens anything but a regular file: a link or a
FIFO named ``*.ipynb`` gets a row with a problem, not a grade, a hang or silence. Zips are read in
memory, streamed with a running byte cap: nothing is unpacked to disk. Every cost is bounded by
:class:`autograder.settings.InputCaps`.
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.course import NOTEBOOKS
from autograder.grading.notebook_file import file_kind, read_notebook, read_notebook_bytes, too_big
from autograder.settings import InputCaps

__all__ = ["Submission", "discover_submissions", "guess_assignment"]

_SKIPPED_PARTS = {"__MACOSX", ".ipynb_checkpoints", "__pycache__"}


@dataclass
class Submission:
    """One submitted notebook, as read from disk.

    Attributes:
        student: the student's id: nbgrader folder name, else zip stem, else notebook stem.
        assignment: ``"NetworkVisualization"``, ``"StyleTransfer"``, or ``None`` when unknown.
        path: the ``.ipynb`` file; for a zip member, ``<zip>/<member name>`` (a name, not a file on
            disk); the zip itself when it held none.
        notebook: the notebook as nbformat v4 with outputs removed, ``None`` when unreadable.
        problems: plain-language problems met while reading.
        modified: the file's modification time (seconds since the epoch; a zip member's own
            date), used to pick the newest of duplicate submissions; ``0.0`` when unknown.
    """

    student: str
    assignment: str | None
    path: Path
    notebook: nbformat.NotebookNode | None
    problems: list[str] = field(default_factory=list)
    modified: float = 0.0


def _normalize(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _assignment_from_name(name: str) -> str | None:
    """An assignment named in a file or folder name (``network_visualization``, ``StyleTransfer-v2``)."""
    key = _normalize(name)
    for assignment in NOTEBOOKS:
        if _normalize(assignment) in key:
            return assignment
    return None


def _defined_names(nb: nbformat.NotebookNode) -> set[str]:
    names: set[str] = set()
    for cell in nb.get("cells", []):
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            names.update(re.findall(r"^\s*def\s+(\w+)\s*\(", str(cell.get("source", "")), flags=re.M))
    return names


def guess_assignment(nb: nbformat.NotebookNode) -> str | None:
    """The assignment whose graded functions the notebook defines most of, ``None`` if none."""
    names = _defined_names(nb)
    counts = {a: len(names.intersection(nb.function_names)) for a, nb in NOTEBOOKS.items()}
    best = max(counts, key=lambda a: counts[a])
    return best if counts[best] > 0 else None


def _is_skipped(name: str) -> bool:
    return name in _SKIPPED_PARTS or name.startswith(".")


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
        if _is_skipped(entry.name):
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


def _names_from(rel_folders: tuple[str, ...], root_name: str, stem: str) -> tuple[str, str | None]:
    """Student and assignment from the folders between the search root and the file."""
    if rel_folders and rel_folders[0] == "submitted":
        rel_folders = rel_folders[1:]
    if rel_folders:
        assignment = _assignment_from_name(rel_folders[-1])
        if len(rel_folders) >= 2:  # nbgrader: <student>/<assignment>/file
            return rel_folders[-2], assignment or _assignment_from_name(stem) or rel_folders[-1]
        if assignment:  # <assignment>/file under a student's folder
            return root_name, assignment
        return rel_folders[-1], _assignment_from_name(stem)  # <student>/file
    return stem, _assignment_from_name(stem)


def _known(assignment: str | None) -> str | None:
    return assignment if assignment in NOTEBOOKS else _assignment_from_name(assignment or "")


def _submission(
    path: Path,
    student: str,
    assignment: str | None,
    read: tuple[nbformat.NotebookNode | None, list[str]],
    problems: list[str],
    modified: float,
) -> Submission:
    nb, read_problems = read
    problems = [*problems, *read_problems]
    known = _known(assignment)
    if known is None and nb is not None:
        known = guess_assignment(nb)
        if known:
            problems.append(f"assignment {known} guessed from the functions the notebook defines")
    if known is None:
        problems.append(
            "could not tell which assignment this is (name the file NetworkVisualization.ipynb or "
            "StyleTransfer.ipynb, and keep the graded function names)"
        )
    return Submission(student, known, path, nb, problems, modified)


def _modified(path: Path) -> float:
    try:
        return path.lstat().st_mtime
    except OSError:
        return 0.0


def _unread(path: Path, student: str, assignment: str | None, problem: str) -> Submission:
    """A row for a file that yields no notebook, with its problem."""
    return Submission(student, _known(assignment), path, None, [problem], _modified(path))


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


def _from_zip(path: Path, student: str, assignment: str | None, caps: InputCaps) -> list[Submission]:
    """One submission per notebook in the zip, read in memory with running byte caps (nothing on disk)."""
    modified = _modified(path)
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode):
            return [
                _unread(
                    path,
                    student,
                    assignment,
                    f"{path.name} is not a regular file ({file_kind(info.st_mode)})",
                )
            ]
        if info.st_size > caps.zip_bytes:
            return [_unread(path, student, assignment, too_big(path.name, info.st_size, caps.zip_bytes))]
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            if len(infos) > caps.zip_members:
                return [
                    _unread(
                        path,
                        student,
                        assignment,
                        f"{path.name} holds {len(infos)} entries, more than the {caps.zip_members} accepted: "
                        "zip only your notebooks",
                    )
                ]
            members = [
                m
                for m in infos
                if not m.is_dir()
                and m.filename.lower().endswith(".ipynb")
                and not any(_is_skipped(p) for p in Path(m.filename).parts)
            ]
            if not members:
                return [_unread(path, student, assignment, f"{path.name}: the zip holds no notebook")]
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
                zip_assignment = assignment or _assignment_from_name(Path(member.filename).stem)
                when = _zip_time(member, modified)
                raw = _read_member(archive, member, budget, caps.notebook_bytes)
                if raw is None:
                    limit = min(caps.notebook_bytes, caps.zip_unpacked_bytes)
                    out.append(
                        Submission(
                            student,
                            _known(zip_assignment),
                            member_path,
                            None,
                            [
                                *problems,
                                f"{member.filename} in {path.name} unpacks to more than "
                                f"{limit / 2**20:.0f} MB; it was not read (clear the outputs, zip "
                                "again and resubmit)",
                            ],
                            when,
                        )
                    )
                    break  # the zip's budget is spent
                read = read_notebook_bytes(raw, Path(member.filename).name, caps)
                del raw
                notes = [*problems, f"{member.filename} read from {path.name}"]
                out.append(_submission(member_path, student, zip_assignment, read, notes, when))
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
        return [_unread(path, student, assignment, f"{path.name} is not a readable zip file: {exc}")]


def _zip_time(member: zipfile.ZipInfo, default: float) -> float:
    import time

    try:
        return time.mktime((*member.date_time, 0, 0, -1))
    except (OverflowError, ValueError):
        return default


def _discover_one(path: Path, student: str, assignment: str | None, caps: InputCaps) -> list[Submission]:
    """The submissions in one discovered file (a notebook, a zip, or whatever wears their names)."""
    if path.is_symlink():
        return [
            _unread(
                path,
                student,
                assignment,
                f"{path.name} is a symbolic link; links are never followed. Submit the file itself.",
            )
        ]
    if path.suffix.lower() == ".zip":
        return _from_zip(path, student, assignment, caps)
    return [_submission(path, student, assignment, read_notebook(path, caps), [], _modified(path))]


def discover_submissions(path: Path, caps: InputCaps | None = None) -> list[Submission]:
    """Find every submission under ``path``; never raises because of a bad file.

    Accepts a notebook, a zip, a folder of notebooks or zips (one per student, student = file
    stem), a folder per student, and nbgrader's ``submitted/<student>/<assignment>/*.ipynb``
    layout (``path`` may be the course folder, ``submitted/`` or one student's folder). Symbolic
    links inside the tree are never followed: a link named like a submission gets a row with a
    problem, a linked folder is not entered. Anything else named ``*.ipynb`` or ``*.zip`` (a FIFO,
    a socket, a folder) gets a row with its problem too.

    Args:
        path: what to grade.
        caps: input caps (default :class:`~autograder.settings.InputCaps`).

    Returns:
        One :class:`Submission` per notebook found, in a stable (sorted) order; a zip without a
        notebook or an unreadable file still yields one, with its problems.

    Raises:
        FileNotFoundError: ``path`` does not exist.
    """
    caps = caps or InputCaps()
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: give a notebook, a zip or a folder of submissions")
    if not path.is_dir():
        return _discover_guarded(path, path.stem, _assignment_from_name(path.stem), caps)
    root = path / "submitted" if (path / "submitted").is_dir() else path
    submissions: list[Submission] = []
    for file, _entry in _iter_entries(root):
        rel = file.relative_to(root).parts[:-1]
        student, assignment = _names_from(rel, root.name, file.stem)
        if file.suffix.lower() == ".zip" and not rel:
            student = file.stem
        submissions.extend(_discover_guarded(file, student, assignment, caps))
    return submissions


def _discover_guarded(path: Path, student: str, assignment: str | None, caps: InputCaps) -> list[Submission]:
    """:func:`_discover_one`, with any unexpected failure as that file's problem (the batch goes on)."""
    try:
        return _discover_one(path, student, assignment, caps)
    except Exception as exc:  # a reader's bug on odd input must cost this file only
        return [
            _unread(path, student, assignment, f"{path.name} could not be read ({type(exc).__name__}: {exc})")
        ]
