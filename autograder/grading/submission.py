"""Find and read submissions: notebooks, folders, nbgrader's ``submitted/`` layout and zips.

Reading never raises on a bad file: whatever is wrong becomes a plain-language line in
:attr:`Submission.problems`, and :attr:`Submission.notebook` is ``None`` when nothing usable could
be read. Outputs stored in submitted notebooks are dropped on reading (grading never looks at
them, and a notebook bloated by outputs must not slow the grader down).

Discovery never follows a symbolic link and never opens anything but a regular file: a link or a
FIFO named ``*.ipynb`` gets a row with a problem, not a grade, a hang or silence. Zips are read in
memory, streamed with a running byte cap: nothing is unpacked to disk. Every cost is bounded by
:class:`autograder.settings.InputCaps`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from autograder.course import NOTEBOOKS
from autograder.settings import InputCaps

__all__ = [
    "Submission",
    "discover_submissions",
    "guess_assignment",
    "read_notebook",
    "read_notebook_bytes",
]

_RESUBMIT = "Download the notebook again from Jupyter (File > Download) and resubmit it."

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


def _strip_outputs(data: dict[str, Any]) -> int:
    """Drop outputs and attachments in place (v3 and v4 layouts); return how many bytes were removed."""
    removed = 0
    for cell in _raw_cells(data):
        if not isinstance(cell, dict):
            continue
        for key in ("outputs", "attachments"):
            if cell.get(key):
                removed += len(json.dumps(cell[key]))
                cell[key] = [] if key == "outputs" else {}
        if "execution_count" in cell:
            cell["execution_count"] = None
        if "prompt_number" in cell:
            cell["prompt_number"] = None
    return removed


def _raw_cells(data: dict[str, Any]) -> list[Any]:
    """Every cell of parsed notebook JSON, v4 (``cells``) and v3 (``worksheets[].cells``) layouts."""
    cells: list[Any] = list(data.get("cells") or [])
    for sheet in data.get("worksheets") or []:
        if isinstance(sheet, dict) and isinstance(sheet.get("cells"), list):
            cells.extend(sheet["cells"])
    return cells


def _cap_sources(data: dict[str, Any], name: str, caps: InputCaps) -> list[str]:
    """Empty every code cell longer than ``caps.cell_source_chars`` (in place); say which."""
    problems = []
    for index, cell in enumerate(_raw_cells(data)):
        if not isinstance(cell, dict):
            continue
        for key in ("source", "input"):  # v4, v3
            source = cell.get(key)
            size = len(source) if isinstance(source, str) else None
            if isinstance(source, list):
                size = sum(len(s) if isinstance(s, str) else 0 for s in source)
            if size is not None and size > caps.cell_source_chars:
                cell[key] = ""
                problems.append(
                    f"{name}: cell {index + 1} holds {size} characters, more than the "
                    f"{caps.cell_source_chars} accepted per cell; it was skipped"
                )
    return problems


def read_notebook(
    path: Path, caps: InputCaps | None = None
) -> tuple[nbformat.NotebookNode | None, list[str]]:
    """Read a notebook file as nbformat v4 without outputs, collecting problems instead of raising.

    The file is opened without following a symbolic link and only if it is a regular file (a FIFO
    named ``*.ipynb`` is refused, not waited on).

    Args:
        path: the ``.ipynb`` file.
        caps: size caps (default :class:`~autograder.settings.InputCaps`).

    Returns:
        ``(notebook or None, problems)``.
    """
    caps = caps or InputCaps()
    name = path.name
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        with contextlib.suppress(OSError):
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                return None, [f"{name} is a symbolic link; links are never followed. Submit the file itself."]
            if not stat.S_ISREG(mode):  # a socket cannot even be opened
                return None, [f"{name} is not a regular file ({_file_kind(mode)}). {_RESUBMIT}"]
        return None, [f"{name} could not be read: {exc.strerror or exc}"]
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, [f"{name} is not a regular file ({_file_kind(info.st_mode)}). {_RESUBMIT}"]
        if info.st_size > caps.notebook_bytes:
            return None, [_too_big(name, info.st_size, caps.notebook_bytes)]
        with os.fdopen(os.dup(fd), "rb") as f:
            raw = f.read(caps.notebook_bytes + 1)
    except OSError as exc:
        return None, [f"{name} could not be read: {exc.strerror or exc}"]
    finally:
        os.close(fd)
    return read_notebook_bytes(raw, name, caps)


def _file_kind(mode: int) -> str:
    kinds = {
        stat.S_ISFIFO: "a FIFO",
        stat.S_ISSOCK: "a socket",
        stat.S_ISCHR: "a device",
        stat.S_ISBLK: "a device",
    }
    kinds |= {stat.S_ISDIR: "a folder", stat.S_ISLNK: "a symbolic link"}
    return next((kind for test, kind in kinds.items() if test(mode)), "not a plain file")


def _too_big(name: str, size: int, cap: int) -> str:
    return (
        f"{name} is {size / 2**20:.1f} MB, more than the {cap / 2**20:.0f} MB accepted: clear its outputs "
        "(Kernel > Restart & Clear Output), save, and resubmit"
    )


def read_notebook_bytes(
    raw: bytes, name: str, caps: InputCaps | None = None
) -> tuple[nbformat.NotebookNode | None, list[str]]:
    """Parse a notebook's bytes as nbformat v4 without outputs; problems instead of exceptions.

    Args:
        raw: the file's contents.
        name: its name, for the messages.
        caps: size and cell-count caps (default :class:`~autograder.settings.InputCaps`).

    Returns:
        ``(notebook or None, problems)``.
    """
    caps = caps or InputCaps()
    problems: list[str] = []
    if not raw:
        return None, [f"{name} is an empty file. {_RESUBMIT}"]
    if len(raw) > caps.notebook_bytes:
        return None, [_too_big(name, len(raw), caps.notebook_bytes)]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("utf-8-sig", errors="replace")
        problems.append(f"{name} is not valid UTF-8; unreadable characters were replaced")
    del raw
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        return None, [
            *problems,
            f"{name} is not valid JSON{where}, so it is not a Jupyter notebook. {_RESUBMIT}",
        ]
    del text
    if not isinstance(data, dict) or not isinstance(data.get("nbformat"), int):
        return None, [
            *problems,
            f"{name} is JSON but not a Jupyter notebook (no 'nbformat' version). {_RESUBMIT}",
        ]
    if not isinstance(data.get("cells", []), list) or not isinstance(data.get("worksheets", []), list):
        return None, [*problems, f"{name} is not a Jupyter notebook: its 'cells' is not a list. {_RESUBMIT}"]
    n_cells = len(_raw_cells(data))
    if n_cells > caps.cells:
        return None, [
            *problems,
            f"{name} has {n_cells} cells, more than the {caps.cells} accepted: "
            "merge or delete cells and resubmit",
        ]
    removed = _strip_outputs(data)
    if removed > 10 * 2**20:
        problems.append(f"{name} holds {removed / 2**20:.0f} MB of outputs; they were ignored")
    problems += _cap_sources(data, name, caps)
    version = data["nbformat"]
    if version not in (3, 4):
        return None, [*problems, f"{name} uses nbformat version {version}, which cannot be read"]
    try:
        nb = nbformat.reads(json.dumps(data), as_version=4)
    except Exception as exc:  # nbformat raises many kinds on malformed content
        return None, [*problems, f"{name} could not be read as a notebook: {type(exc).__name__}: {exc}"]
    if version == 3:
        problems.append(f"{name} is in the old nbformat v3; it was converted to v4")
    cells = [
        c for c in nb.get("cells", []) if isinstance(c, dict) and isinstance(c.get("source", ""), str | list)
    ]
    if len(cells) != len(nb.get("cells", [])):
        problems.append(f"{name}: {len(nb.cells) - len(cells)} malformed cell(s) were ignored")
        nb["cells"] = cells
    for cell in nb.cells:
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(str(s) for s in cell["source"])
        if not isinstance(cell.get("metadata"), dict):
            cell["metadata"] = nbformat.NotebookNode()
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        if "nbgrader" in cell.metadata and not isinstance(meta, dict):
            del cell.metadata["nbgrader"]  # malformed: the cell is read as a plain cell
        elif isinstance(meta, dict) and not isinstance(meta.get("grade_id", ""), str):
            del meta["grade_id"]  # a list or a number is no cell id
    ids = Counter(c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells)  # dicts by now
    duplicates = sorted(i for i, n in ids.items() if isinstance(i, str) and n > 1)
    if duplicates:
        problems.append(
            f"{name} has duplicated nbgrader cells ({', '.join(duplicates)}); "
            "the last definition of each function is graded, as Jupyter would run it"
        )
    return nb, problems


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
                    f"{path.name} is not a regular file ({_file_kind(info.st_mode)})",
                )
            ]
        if info.st_size > caps.zip_bytes:
            return [_unread(path, student, assignment, _too_big(path.name, info.st_size, caps.zip_bytes))]
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
