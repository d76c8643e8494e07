"""Tests of autograder.grading.submission: finding and reading submissions without ever raising."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from autograder.grading.identity import guess_assignment
from autograder.grading.submission import discover_submissions
from autograder.notebook_io.files import read_notebook
from tests.helpers.notebooks import REPO


def write_nb(path: Path, *sources: str) -> Path:
    """Write a small v4 notebook with one code cell per source."""
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(new_notebook(cells=[new_code_cell(s) for s in sources]), path)
    return path


def test_nbgrader_layout(tmp_path: Path) -> None:
    """Are student and assignment taken from nbgrader's submitted/<student>/<assignment>/ folders?"""
    write_nb(
        tmp_path / "submitted" / "alice" / "NetworkVisualization" / "NetworkVisualization.ipynb", "x = 1"
    )
    write_nb(tmp_path / "submitted" / "bob" / "StyleTransfer" / "StyleTransfer.ipynb", "x = 1")
    subs = discover_submissions(tmp_path)
    assert [(s.student, s.assignment) for s in subs] == [
        ("alice", "NetworkVisualization"),
        ("bob", "StyleTransfer"),
    ]
    assert all(s.notebook is not None and s.problems == [] for s in subs)


def test_folder_of_notebooks_guesses_assignment(tmp_path: Path) -> None:
    """In a plain folder, is the student the file stem and the assignment guessed from the functions?"""
    write_nb(tmp_path / "carol.ipynb", "def gram_matrix(features, normalize=True):\n    pass")
    (sub,) = discover_submissions(tmp_path)
    assert (sub.student, sub.assignment) == ("carol", "StyleTransfer")
    assert any("guessed" in p for p in sub.problems)


def test_zip_submission(tmp_path: Path) -> None:
    """Is a zipped notebook read in memory (nothing unpacked to disk), with the zip's stem as the student?"""
    nb_path = write_nb(tmp_path / "src" / "NetworkVisualization.ipynb", "x = 1")
    archive = tmp_path / "subs" / "dave.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as z:
        z.write(nb_path, "homework/NetworkVisualization.ipynb")
        z.writestr("__MACOSX/._NetworkVisualization.ipynb", "junk")
        z.writestr("../../evil.ipynb", "{}")
    subs = discover_submissions(archive.parent)
    assert [(s.student, s.assignment) for s in subs if s.notebook is not None] == [
        ("dave", "NetworkVisualization")
    ]
    assert all(archive in s.path.parents for s in subs)  # names the member inside the zip
    assert not (tmp_path / "evil.ipynb").exists()
    assert sorted(p.name for p in tmp_path.rglob("*")) == sorted(
        ["src", "subs", "dave.zip", "NetworkVisualization.ipynb"]
    )


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "empty file"),
        (b"this is not json", "not valid JSON"),
        (b'{"hello": "world"}', "not a Jupyter notebook"),
        (b"[1, 2, 3]", "not a Jupyter notebook"),
        (b'{"nbformat": 4, "cells": 5}', "not a list"),
        (b'{"nbformat": 99, "nbformat_minor": 0, "cells": [], "metadata": {}}', "version 99"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
    ],
)
def test_broken_files_become_problems(tmp_path: Path, content: bytes, words: str) -> None:
    """Does each kind of unreadable file give a Submission with a plain problem instead of raising?"""
    path = tmp_path / "NetworkVisualization.ipynb"
    path.write_bytes(content)
    (sub,) = discover_submissions(path)
    assert sub.notebook is None
    assert sub.assignment == "NetworkVisualization"
    assert any(words in p for p in sub.problems), sub.problems


def test_zip_without_notebook_and_bad_zip(tmp_path: Path) -> None:
    """Are a zip holding no notebook and a corrupt zip each reported as a problem?"""
    with zipfile.ZipFile(tmp_path / "erin.zip", "w") as z:
        z.writestr("notes.txt", "no notebook here")
    (tmp_path / "frank.zip").write_bytes(b"PK\x03\x04 definitely not a zip")
    subs = discover_submissions(tmp_path)
    problems = {s.student: s.problems for s in subs}
    assert any("holds no notebook" in p for p in problems["erin"])
    assert any("not a readable zip" in p for p in problems["frank"])


def test_nbformat_v3_is_converted(tmp_path: Path) -> None:
    """Is an nbformat v3 notebook converted to v4 and its code kept?"""
    v3 = {
        "nbformat": 3,
        "nbformat_minor": 0,
        "metadata": {"name": ""},
        "worksheets": [
            {
                "cells": [
                    {
                        "cell_type": "code",
                        "input": "def tv_loss(img, w):\n    return 0",
                        "language": "python",
                        "outputs": [],
                        "metadata": {},
                    }
                ],
                "metadata": {},
            }
        ],
    }
    path = tmp_path / "StyleTransfer.ipynb"
    path.write_text(json.dumps(v3))
    nb, problems = read_notebook(path)
    assert nb is not None and nb.nbformat == 4
    assert "def tv_loss" in nb.cells[0].source
    assert any("v3" in p for p in problems)


def test_huge_outputs_are_dropped(tmp_path: Path) -> None:
    """Are outputs left in the notebook dropped on reading, with a note when they were large?"""
    cell = new_code_cell("def content_loss(w, a, b):\n    return 0")
    cell.outputs = [new_output("stream", name="stdout", text="x" * (12 * 2**20))]
    path = tmp_path / "StyleTransfer.ipynb"
    nbformat.write(new_notebook(cells=[cell]), path)
    nb, problems = read_notebook(path)
    assert nb is not None and nb.cells[0].outputs == []
    assert any("MB of outputs" in p for p in problems)


def test_duplicate_grade_ids_reported(tmp_path: Path) -> None:
    """Are duplicated nbgrader grade_ids reported (and the notebook still read)?"""
    cells = [new_code_cell("def f():\n    return 1"), new_code_cell("def f():\n    return 2")]
    for cell in cells:
        cell.metadata["nbgrader"] = {"solution": True, "grade_id": "f", "grade": False}
    path = tmp_path / "NetworkVisualization.ipynb"
    nbformat.write(new_notebook(cells=cells), path)
    nb, problems = read_notebook(path)
    assert nb is not None and len(nb.cells) == 2
    assert any("duplicated" in p and "f" in p for p in problems)


def test_guess_assignment_none_for_unrelated() -> None:
    """Is no assignment guessed for a notebook defining none of the graded functions?"""
    assert guess_assignment(new_notebook(cells=[new_code_cell("def unrelated():\n    pass")])) is None


def test_missing_path_raises_clearly(tmp_path: Path) -> None:
    """Does a path that does not exist raise an error saying what to give instead?"""
    with pytest.raises(FileNotFoundError, match="give a notebook"):
        discover_submissions(tmp_path / "nope")


def test_malformed_nbgrader_metadata_is_read_as_a_plain_cell(tmp_path) -> None:
    """Does a cell whose metadata.nbgrader is a string still let the notebook be read and graded?"""
    nb = nbformat.read(REPO / "notebooks" / "StyleTransfer.ipynb", as_version=4)
    nb.cells[1].metadata["nbgrader"] = "oops"
    path = tmp_path / "StyleTransfer.ipynb"
    path.write_text(json.dumps(nb))
    read, _ = read_notebook(path)
    assert read is not None and "nbgrader" not in read.cells[1].metadata


# ------------------------------------------------------------------ hostile trees and caps
def _rows(subs) -> dict[str, list[str]]:
    return {s.path.name: s.problems for s in subs}


def test_symlinks_are_never_followed(tmp_path: Path) -> None:
    """Does a link to the solution notebook get a row with a problem and no notebook, and a linked
    folder stay unentered?"""
    subs_dir = tmp_path / "subs"
    write_nb(subs_dir / "bob" / "StyleTransfer.ipynb", "x = 1")
    (subs_dir / "eve").mkdir()
    (subs_dir / "eve" / "StyleTransfer.ipynb").symlink_to(REPO / "solutions" / "StyleTransfer.ipynb")
    (subs_dir / "mallory").symlink_to(REPO / "solutions", target_is_directory=True)
    subs = discover_submissions(subs_dir)
    by_student = {s.student: s for s in subs}
    assert sorted(by_student) == ["bob", "eve"]
    assert by_student["eve"].notebook is None
    assert any("symbolic link" in p for p in by_student["eve"].problems)
    assert by_student["bob"].notebook is not None


def test_fifo_socket_and_folder_named_ipynb_get_rows_without_hanging(tmp_path: Path) -> None:
    """Is a FIFO, a socket or a folder named *.ipynb a row with a clear problem (no hang, no silence)?"""
    import os
    import socket

    os.mkfifo(tmp_path / "fifo.ipynb")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock.ipynb"))
    (tmp_path / "dir.zip").mkdir()  # a folder named like a zip is entered, not read
    try:
        rows = _rows(discover_submissions(tmp_path))
    finally:
        sock.close()
    assert any("not a regular file (a FIFO)" in p for p in rows["fifo.ipynb"])
    assert any("not a regular file (a socket)" in p for p in rows["sock.ipynb"])
    assert "dir.zip" not in rows


def test_non_utf8_and_surrogate_names_are_discovered(tmp_path: Path) -> None:
    """Do folders whose names are not UTF-8 still give their students (bytes kept as surrogates)?"""
    import os

    folder = os.path.join(os.fsencode(tmp_path), b"caf\xe9")
    os.mkdir(folder)
    write_nb(Path(os.fsdecode(folder)) / "StyleTransfer.ipynb", "x = 1")
    (sub,) = discover_submissions(tmp_path)
    assert sub.student == "caf\udce9" and sub.assignment == "StyleTransfer" and sub.notebook is not None


def test_zip_bomb_stops_at_the_running_cap_and_writes_nothing(tmp_path: Path) -> None:
    """Is a zip whose notebook unpacks past the cap refused while streaming, whatever its header says?"""
    from autograder.settings import InputCaps

    archive = tmp_path / "subs" / "bomb.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("StyleTransfer.ipynb", b"{" + b" " * (8 * 2**20))  # 8 MB of spaces: ~8 kB zipped
    caps = InputCaps(zip_unpacked_bytes=2**20)
    (sub,) = discover_submissions(archive.parent, caps)
    assert sub.notebook is None and any("unpacks to more than 1 MB" in p for p in sub.problems)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["bomb.zip", "subs"]


def test_zip_member_count_and_size_caps(tmp_path: Path) -> None:
    """Are zips with too many entries, or too large on disk, refused with the cap in the message?"""
    from autograder.settings import InputCaps

    many = tmp_path / "many.zip"
    with zipfile.ZipFile(many, "w") as z:
        for i in range(50):
            z.writestr(f"f{i}.txt", "")
    (sub,) = discover_submissions(many, InputCaps(zip_members=10))
    assert any("50 entries, more than the 10 accepted" in p for p in sub.problems)
    (sub,) = discover_submissions(many, InputCaps(zip_bytes=100))
    assert any("MB accepted" in p for p in sub.problems)


def test_cell_count_and_cell_source_caps(tmp_path: Path) -> None:
    """Is a notebook with too many cells refused, and a too-long cell skipped, each with a message?"""
    from autograder.settings import InputCaps

    path = write_nb(tmp_path / "StyleTransfer.ipynb", *(["x = 1"] * 30))
    nb, problems = read_notebook(path, InputCaps(cells=20))
    assert nb is None and any("30 cells, more than the 20 accepted" in p for p in problems)
    path = write_nb(tmp_path / "long.ipynb", "import os;" * 1000, "y = 2")
    nb, problems = read_notebook(path, InputCaps(cell_source_chars=5000))
    assert nb is not None and [c.source for c in nb.cells] == ["", "y = 2"]
    assert any("cell 1 holds 10000 characters" in p for p in problems)
    nb, problems = read_notebook(path, InputCaps(notebook_bytes=100))
    assert nb is None and any("MB accepted" in p for p in problems)


def test_grade_id_of_the_wrong_kind_is_dropped(tmp_path: Path) -> None:
    """Does a list as an nbgrader grade_id read as no id (no crash counting duplicates)?"""
    path = write_nb(tmp_path / "StyleTransfer.ipynb", "x = 1", "y = 1")
    data = json.loads(path.read_text())
    for cell in data["cells"]:
        cell["metadata"]["nbgrader"] = {"grade_id": ["a"], "solution": True}
    path.write_text(json.dumps(data))
    nb, _ = read_notebook(path)
    assert nb is not None and all("grade_id" not in c.metadata["nbgrader"] for c in nb.cells)


def test_unreadable_file_is_a_row_with_its_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Does a file the grader may not open (as root nothing is unreadable, so open is made to fail)
    give a row that says why?"""
    import os

    path = write_nb(tmp_path / "ann" / "StyleTransfer.ipynb", "x = 1")
    real_open = os.open

    def denied(file, flags, *args, **kwargs):
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied")
        return real_open(file, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", denied)
    (sub,) = discover_submissions(tmp_path)
    assert sub.notebook is None and any("could not be read: Permission denied" in p for p in sub.problems)
