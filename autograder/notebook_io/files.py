"""Read one submitted notebook file (or a zip member's bytes) as nbformat v4, never raising.

Whatever is wrong becomes a plain-language problem and the notebook is ``None`` when nothing usable
could be read. Outputs and attachments are dropped on reading (grading never looks at them, and a
notebook bloated by outputs must not slow the grader down); sizes, cell counts and cell sources are
capped by :class:`autograder.settings.InputCaps`. Text that no later step could handle is made
ordinary here: a lone surrogate (``"\ud800"`` in the JSON, which no UTF-8 text can hold) becomes
U+FFFD with a problem naming the cell, and every cell's line endings become ``\n`` (``\r\n`` and a
lone ``\r`` are line breaks to IPython and to Python, so a cell saved with old-Mac line endings runs
as written).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
from collections import Counter
from pathlib import Path
from typing import Any

import nbformat

from autograder.settings import InputCaps

__all__ = ["file_kind", "read_notebook", "read_notebook_bytes", "too_big"]

_RESUBMIT = "Download the notebook again from Jupyter (File > Download) and resubmit it."
#: A UTF-16 surrogate code point: only a lone one survives ``json.loads`` (a pair becomes one character).
_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_surrogates(value: Any) -> tuple[Any, int]:
    """``value`` (parsed JSON) with every lone surrogate replaced by U+FFFD, and how many there were."""
    if isinstance(value, str):
        return _SURROGATE.subn("\ufffd", value)
    if isinstance(value, list):
        pairs = [_without_surrogates(v) for v in value]
        return [v for v, _ in pairs], sum(n for _, n in pairs)
    if isinstance(value, dict):
        pairs = {_without_surrogates(k)[0]: _without_surrogates(v) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs.items()}, sum(n for _, n in pairs.values())
    return value, 0


def _clean_text(data: dict[str, Any], name: str) -> list[str]:
    """Replace lone surrogates in every cell (in place); say which cells held them."""
    problems = []
    for index, cell in enumerate(_raw_cells(data)):
        if isinstance(cell, dict):
            cleaned, count = _without_surrogates(cell)
            if count:
                cell.clear()
                cell.update(cleaned)
                problems.append(
                    f"{name}: cell {index + 1} holds {count} character(s) that are not valid Unicode (a lone "
                    "surrogate such as \\ud800, which Jupyter never writes); each was replaced by \ufffd. "
                    "Delete those characters, save and resubmit if the cell no longer does what you meant"
                )
    cleaned_meta, count = _without_surrogates(data.get("metadata", {}))
    if count:
        data["metadata"] = cleaned_meta
    return problems


def _normalize_newlines(source: str) -> str:
    """``\r\n`` and lone ``\r`` as ``\n``: the line breaks IPython (``str.splitlines``) and Python
    read in a cell, so extraction sees the lines the student's kernel ran."""
    return source.replace("\r\n", "\n").replace("\r", "\n") if "\r" in source else source


def _strip_outputs(data: dict[str, Any], keep_attachments: bool = False) -> int:
    """Drop outputs (and attachments, unless kept) in place (v3 and v4 layouts); return how many
    bytes were removed."""
    removed = 0
    for cell in _raw_cells(data):
        if not isinstance(cell, dict):
            continue
        for key in ("outputs",) if keep_attachments else ("outputs", "attachments"):
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
    path: Path, caps: InputCaps | None = None, *, keep_attachments: bool = False
) -> tuple[nbformat.NotebookNode | None, list[str]]:
    """Read a notebook file as nbformat v4 without outputs, collecting problems instead of raising.

    The file is opened without following a symbolic link and only if it is a regular file (a FIFO
    named ``*.ipynb`` is refused, not waited on).

    Args:
        path: the ``.ipynb`` file.
        caps: size caps (default :class:`~autograder.settings.InputCaps`).
        keep_attachments: keep the images pasted into markdown cells (the notebooks formgrader
            shows need them; grading does not).

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
                return None, [f"{name} is not a regular file ({file_kind(mode)}). {_RESUBMIT}"]
        return None, [f"{name} could not be read: {exc.strerror or exc}"]
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, [f"{name} is not a regular file ({file_kind(info.st_mode)}). {_RESUBMIT}"]
        if info.st_size > caps.notebook_bytes:
            return None, [too_big(name, info.st_size, caps.notebook_bytes)]
        with os.fdopen(os.dup(fd), "rb") as f:
            raw = f.read(caps.notebook_bytes + 1)
    except OSError as exc:
        return None, [f"{name} could not be read: {exc.strerror or exc}"]
    finally:
        os.close(fd)
    return read_notebook_bytes(raw, name, caps, keep_attachments=keep_attachments)


def file_kind(mode: int) -> str:
    kinds = {
        stat.S_ISFIFO: "a FIFO",
        stat.S_ISSOCK: "a socket",
        stat.S_ISCHR: "a device",
        stat.S_ISBLK: "a device",
    }
    kinds |= {stat.S_ISDIR: "a folder", stat.S_ISLNK: "a symbolic link"}
    return next((kind for test, kind in kinds.items() if test(mode)), "not a plain file")


def too_big(name: str, size: int, cap: int) -> str:
    return (
        f"{name} is {size / 2**20:.1f} MB, more than the {cap / 2**20:.0f} MB accepted: clear its outputs "
        "(Kernel > Restart & Clear Output), save, and resubmit"
    )


def read_notebook_bytes(
    raw: bytes, name: str, caps: InputCaps | None = None, *, keep_attachments: bool = False
) -> tuple[nbformat.NotebookNode | None, list[str]]:
    """Parse a notebook's bytes as nbformat v4 without outputs; problems instead of exceptions.

    Args:
        raw: the file's contents.
        name: its name, for the messages.
        caps: size and cell-count caps (default :class:`~autograder.settings.InputCaps`).
        keep_attachments: keep markdown cells' attachments (see :func:`read_notebook`).

    Returns:
        ``(notebook or None, problems)``.
    """
    caps = caps or InputCaps()
    problems: list[str] = []
    if not raw:
        return None, [f"{name} is an empty file. {_RESUBMIT}"]
    if len(raw) > caps.notebook_bytes:
        return None, [too_big(name, len(raw), caps.notebook_bytes)]
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
    removed = _strip_outputs(data, keep_attachments)
    if removed > 10 * 2**20:
        problems.append(f"{name} holds {removed / 2**20:.0f} MB of outputs; they were ignored")
    problems += _cap_sources(data, name, caps)
    problems += _clean_text(data, name)
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
        cell["source"] = _normalize_newlines(cell["source"])
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
