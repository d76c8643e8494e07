"""Where results live on disk: one file name per (student, assignment), written atomically.

Names **escape** rather than collapse: ``Mary Jane`` and ``Mary_Jane`` get different files
(``Mary%20Jane__...`` and ``Mary_Jane__...``), so no two students can overwrite each other's result.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ["escape_name", "result_stem", "write_atomic"]

_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
#: Longest file stem written (file systems allow 255 bytes per name; ``.json`` and temp affixes need room).
_MAX_STEM = 200


def _utf8(text: str) -> bytes:
    """UTF-8 bytes of ``text``; a name's undecodable bytes (``surrogateescape``) come back as they were,
    any other lone surrogate is encoded as is (``surrogatepass``): never an exception."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def escape_name(text: str) -> str:
    """``text`` as a file-name part: safe characters kept, every other byte as ``%XX`` (injective)."""
    out = []
    for i, ch in enumerate(text):
        if ch in _SAFE and not (i == 0 and ch == "."):  # no hidden files, no "." or ".."
            out.append(ch)
        else:
            out.extend(f"%{b:02X}" for b in _utf8(ch))
    return "".join(out)


def result_stem(student: str, assignment: str | None) -> str:
    """File stem of one student's result for one assignment: ``<escaped student>__<assignment>``.

    Injective (different students never share a stem) and stable across runs. A very long name is
    cut and completed with a digest of the whole name.
    """
    stem = f"{escape_name(student) or '%00'}__{assignment or 'unknown'}"
    if len(stem) > _MAX_STEM:
        digest = hashlib.sha256(_utf8(stem)).hexdigest()[:16]
        stem = f"{stem[: _MAX_STEM - 18]}~{digest}"
    return stem


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temp file and ``os.replace``: never half a file.

    A lone surrogate (a byte of a non-UTF-8 file name) is written as a backslash escape, so the file
    is always valid UTF-8 and writing never fails because of a name.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8", errors="backslashreplace")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
