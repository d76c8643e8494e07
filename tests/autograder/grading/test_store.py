"""Tests of autograder.grading.store: result names never collide, writes are atomic."""

from __future__ import annotations

from pathlib import Path

from autograder.grading.store import escape_name, result_stem, write_atomic


def test_names_escape_instead_of_collapsing() -> None:
    """Do 'Mary Jane' and 'Mary_Jane' (and other near-twins) get different, stable stems?"""
    names = [
        "Mary Jane",
        "Mary_Jane",
        "Mary%20Jane",
        "mary jane",
        ".hidden",
        "ünïcode",
        "a/b",
        "a\\b",
        "=1+1",
    ]
    stems = [result_stem(n, "StyleTransfer") for n in names]
    assert len(set(stems)) == len(names)
    assert stems == [result_stem(n, "StyleTransfer") for n in names]
    assert all("/" not in s and not s.startswith(".") for s in stems)
    assert result_stem("Mary_Jane", "StyleTransfer") == "Mary_Jane__StyleTransfer"


def test_surrogate_and_long_names_are_file_names(tmp_path: Path) -> None:
    """Can a non-UTF-8 (surrogate-escaped) or very long name be written as a file?"""
    for name in ("bad\udcff", "x" * 1000):
        path = tmp_path / f"{result_stem(name, 'StyleTransfer')}.json"
        write_atomic(path, "{}")
        assert path.read_text() == "{}"
    assert escape_name("a b") == "a%20b"


def test_write_atomic_leaves_no_temp_files(tmp_path: Path) -> None:
    """Does an atomic write leave only the target behind?"""
    write_atomic(tmp_path / "sub" / "r.json", "data")
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["r.json"]
