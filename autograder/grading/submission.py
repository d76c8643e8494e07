"""Find and read submissions: notebooks, folders, nbgrader's ``submitted/`` layout and zips.

Reading never raises on a bad file: whatever is wrong becomes a plain-language line in
:attr:`Submission.problems`, and :attr:`Submission.notebook` is ``None`` when nothing usable could
be read. Outputs stored in submitted notebooks are dropped on reading (grading never looks at
them, and a notebook bloated by outputs must not slow the grader down).
"""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from autograder.course import NOTEBOOKS

__all__ = [
    "MAX_NOTEBOOK_BYTES",
    "Submission",
    "discover_submissions",
    "guess_assignment",
    "read_notebook",
]


#: Largest notebook file read, in bytes (a notebook with big outputs still fits; beyond is refused).
MAX_NOTEBOOK_BYTES = 1 << 30
#: Largest total of notebooks extracted from one zip, in bytes.
MAX_ZIP_BYTES = 1 << 30

_SKIPPED_PARTS = {"__MACOSX", ".ipynb_checkpoints", "__pycache__"}


@dataclass
class Submission:
    """One submitted notebook, as read from disk.

    Attributes:
        student: the student's id: nbgrader folder name, else zip stem, else notebook stem.
        assignment: ``"NetworkVisualization"``, ``"StyleTransfer"``, or ``None`` when unknown.
        path: the ``.ipynb`` file (inside ``workdir`` for zips; the zip itself when it held none).
        notebook: the notebook as nbformat v4 with outputs removed, ``None`` when unreadable.
        problems: plain-language problems met while reading.
    """

    student: str
    assignment: str | None
    path: Path
    notebook: nbformat.NotebookNode | None
    problems: list[str] = field(default_factory=list)


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
    cells: list[Any] = list(data.get("cells") or [])
    for sheet in data.get("worksheets") or []:
        if isinstance(sheet, dict):
            cells.extend(sheet.get("cells") or [])
    for cell in cells:
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


def read_notebook(
    path: Path, max_bytes: int = MAX_NOTEBOOK_BYTES
) -> tuple[nbformat.NotebookNode | None, list[str]]:
    """Read a notebook file as nbformat v4 without outputs, collecting problems instead of raising.

    Args:
        path: the ``.ipynb`` file.
        max_bytes: refuse larger files.

    Returns:
        ``(notebook or None, problems)``.
    """
    problems: list[str] = []
    resubmit = "Download the notebook again from Jupyter (File > Download) and resubmit it."
    try:
        size = path.stat().st_size
        if size == 0:
            return None, [f"{path.name} is an empty file. {resubmit}"]
        if size > max_bytes:
            return None, [
                f"{path.name} is {size / 2**20:.0f} MB, more than the {max_bytes / 2**20:.0f} MB accepted"
            ]
        raw = path.read_bytes()
    except OSError as exc:
        return None, [f"{path.name} could not be read: {exc.strerror or exc}"]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("utf-8-sig", errors="replace")
        problems.append(f"{path.name} is not valid UTF-8; unreadable characters were replaced")
    del raw
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        return None, [
            *problems,
            f"{path.name} is not valid JSON{where}, so it is not a Jupyter notebook. {resubmit}",
        ]
    del text
    if not isinstance(data, dict) or not isinstance(data.get("nbformat"), int):
        return None, [
            *problems,
            f"{path.name} is JSON but not a Jupyter notebook (no 'nbformat' version). {resubmit}",
        ]
    if not isinstance(data.get("cells", []), list) or not isinstance(data.get("worksheets", []), list):
        return None, [
            *problems,
            f"{path.name} is not a Jupyter notebook: its 'cells' is not a list. {resubmit}",
        ]
    removed = _strip_outputs(data)
    if removed > 10 * 2**20:
        problems.append(f"{path.name} holds {removed / 2**20:.0f} MB of outputs; they were ignored")
    version = data["nbformat"]
    if version not in (3, 4):
        return None, [*problems, f"{path.name} uses nbformat version {version}, which cannot be read"]
    try:
        nb = nbformat.reads(json.dumps(data), as_version=4)
    except Exception as exc:  # nbformat raises many kinds on malformed content
        return None, [*problems, f"{path.name} could not be read as a notebook: {type(exc).__name__}: {exc}"]
    if version == 3:
        problems.append(f"{path.name} is in the old nbformat v3; it was converted to v4")
    cells = [
        c for c in nb.get("cells", []) if isinstance(c, dict) and isinstance(c.get("source", ""), str | list)
    ]
    if len(cells) != len(nb.get("cells", [])):
        problems.append(f"{path.name}: {len(nb.cells) - len(cells)} malformed cell(s) were ignored")
        nb["cells"] = cells
    for cell in nb.cells:
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(str(s) for s in cell["source"])
        if not isinstance(cell.get("metadata"), dict):
            cell["metadata"] = nbformat.NotebookNode()
    for cell in nb.cells:
        if "nbgrader" in cell.metadata and not isinstance(cell.metadata["nbgrader"], dict):
            del cell.metadata["nbgrader"]  # malformed: the cell is read as a plain cell
    ids = Counter(c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells)
    duplicates = sorted(i for i, n in ids.items() if isinstance(i, str) and n > 1)
    if duplicates:
        problems.append(
            f"{path.name} has duplicated nbgrader cells ({', '.join(duplicates)}); "
            "the last definition of each function is graded, as Jupyter would run it"
        )
    return nb, problems


def _iter_notebooks(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).parts
        if any(p in _SKIPPED_PARTS or p.startswith(".") for p in rel):
            continue
        if path.is_file() and path.suffix.lower() in (".ipynb", ".zip"):
            yield path


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


def _from_notebook(path: Path, student: str, assignment: str | None, problems: list[str]) -> Submission:
    nb, read_problems = read_notebook(path)
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
    return Submission(student=student, assignment=known, path=path, notebook=nb, problems=problems)


def _safe_member_name(index: int, name: str) -> str:
    base = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(name).name)[:100] or "notebook.ipynb"
    return f"{index:03d}-{base}"


def _from_zip(path: Path, student: str, assignment: str | None, workdir: Path) -> list[Submission]:
    target = workdir / f"zip-{_normalize(student) or 'student'}-{abs(hash(str(path.resolve()))) % 10**8}"
    try:
        with zipfile.ZipFile(path) as archive:
            members = [
                m
                for m in archive.infolist()
                if not m.is_dir()
                and m.filename.lower().endswith(".ipynb")
                and not any(p in _SKIPPED_PARTS or p.startswith(".") for p in Path(m.filename).parts)
            ]
            if not members:
                return [
                    Submission(
                        student, _known(assignment), path, None, [f"{path.name}: the zip holds no notebook"]
                    )
                ]
            if sum(m.file_size for m in members) > MAX_ZIP_BYTES:
                return [
                    Submission(
                        student,
                        _known(assignment),
                        path,
                        None,
                        [f"{path.name}: the notebooks in the zip are too large once unpacked"],
                    )
                ]
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            out = []
            for index, member in enumerate(members):
                dest = target / _safe_member_name(index, member.filename)
                with archive.open(member) as src, dest.open("wb") as dst:
                    copied = 0
                    while chunk := src.read(1 << 20):
                        copied += len(chunk)
                        if copied > MAX_NOTEBOOK_BYTES:
                            break
                        dst.write(chunk)
                zip_assignment = assignment or _assignment_from_name(Path(member.filename).stem)
                problems = [f"{member.filename} read from {path.name}"]
                sub = _from_notebook(dest, student, zip_assignment, problems)
                out.append(sub)
            return out
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError, ValueError) as exc:
        return [
            Submission(
                student, _known(assignment), path, None, [f"{path.name} is not a readable zip file: {exc}"]
            )
        ]


def discover_submissions(path: Path, workdir: Path) -> list[Submission]:
    """Find every submission under ``path``; never raises because of a bad file.

    Accepts a notebook, a zip, a folder of notebooks or zips (one per student, student = file
    stem), a folder per student, and nbgrader's ``submitted/<student>/<assignment>/*.ipynb``
    layout (``path`` may be the course folder, ``submitted/`` or one student's folder).

    Args:
        path: what to grade.
        workdir: a scratch folder for unpacked zips.

    Returns:
        One :class:`Submission` per notebook found, in a stable (sorted) order; a zip without a
        notebook or an unreadable file still yields one, with its problems.
    """
    path = Path(path)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: give a notebook, a zip or a folder of submissions")
    if path.is_file():
        if path.suffix.lower() == ".zip":
            return _from_zip(path, path.stem, _assignment_from_name(path.stem), workdir)
        return [_from_notebook(path, path.stem, _assignment_from_name(path.stem), [])]
    root = path / "submitted" if (path / "submitted").is_dir() else path
    submissions: list[Submission] = []
    for file in _iter_notebooks(root):
        rel = file.relative_to(root).parts[:-1]
        student, assignment = _names_from(rel, root.name, file.stem)
        if file.suffix.lower() == ".zip":
            zip_student = student if rel else file.stem
            submissions.extend(_from_zip(file, zip_student, assignment, workdir))
        else:
            submissions.append(_from_notebook(file, student, assignment, []))
    return submissions
