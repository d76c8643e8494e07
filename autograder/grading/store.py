"""Where results live on disk: one file name per (student, assignment), written atomically.

Names **escape** rather than collapse: ``Mary Jane`` and ``Mary_Jane`` get different files
(``Mary%20Jane__...`` and ``Mary_Jane__...``), so no two students can overwrite each other's result.
Reading them back (:func:`read_results`) skips a file that is not a complete, well-typed result and
says which, so one damaged file never stops a report or an import.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from autograder.grading.results import SubmissionResult

__all__ = ["escape_name", "read_result", "read_results", "result_stem", "write_atomic"]

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


def read_result(path: Path) -> SubmissionResult:
    """One result file.

    Raises:
        OSError: it cannot be read.
        ValueError: it is not JSON, or not a result.
        TypeError: a field has the wrong kind.
    """
    return SubmissionResult.from_json(Path(path).read_text(encoding="utf-8"))


def read_results(out_dir: Path) -> tuple[list[SubmissionResult], list[str]]:
    """Every readable ``out_dir/results/*.json``, sorted by file name, and one warning per file skipped.

    Returns:
        ``(results, warnings)``: a warning names the file and why it is not a result (not JSON, a
        field of the wrong kind...); that file is left out, never fatal.

    Raises:
        FileNotFoundError: when ``out_dir/results/`` holds no result file.
    """
    folder = Path(out_dir) / "results"
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if not files:
        raise FileNotFoundError(
            f"{folder} holds no grading results: grade first with `python -m autograder grade "
            f"SUBMISSIONS --out {out_dir}` (it writes results/<student>__<assignment>.json files)."
        )
    results, warnings = [], []
    for path in files:
        try:
            results.append(read_result(path))
        except (OSError, ValueError, TypeError, RecursionError) as exc:
            why = f"{type(exc).__name__}: {exc}"
            warnings.append(f"skipped results/{path.name}: not a readable result ({why})")
    return results, warnings
