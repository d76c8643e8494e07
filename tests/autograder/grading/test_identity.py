"""Who submitted what (autograder.grading.identity): the student from the layout, never from depth or
file times, and one graded notebook per student and assignment (issue 21, finding 2)."""

from __future__ import annotations

from pathlib import Path

from autograder.grading.identity import resolve_duplicates
from autograder.grading.submission import discover_submissions
from tests.autograder.grading.test_submission import write_nb
from tests.helpers.notebooks import REPO


def test_duplicates_are_resolved_by_place_and_name_never_by_file_time(tmp_path) -> None:
    """Are `StyleTransfer.ipynb` and `StyleTransfer (1).ipynb` of one student graded once, on the exact
    name, even when the other is dated later (a student sets file times), the other listed?"""
    import os

    folder = tmp_path / "submitted" / "ada" / "StyleTransfer"
    folder.mkdir(parents=True)
    stub = (REPO / "notebooks" / "StyleTransfer.ipynb").read_text()
    (folder / "StyleTransfer.ipynb").write_text(stub)
    (folder / "StyleTransfer (1).ipynb").write_text(stub)
    os.utime(folder / "StyleTransfer.ipynb", (1, 1))
    os.utime(folder / "StyleTransfer (1).ipynb", (4_102_444_800, 4_102_444_800))  # year 2100
    found = discover_submissions(tmp_path)
    assert len(found) == 2
    (kept,) = resolve_duplicates(found)
    assert kept.path.name == "StyleTransfer.ipynb"
    assert any("not: StyleTransfer/StyleTransfer (1).ipynb" in p for p in kept.problems)


def _planting_tree(root: Path) -> Path:
    """alice's real notebook; mallory's own, a copy planted as alice's, a backup and 20 nested copies."""
    import os

    real = write_nb(root / "submitted" / "alice" / "StyleTransfer" / "StyleTransfer.ipynb", "ALICE = 1")
    mallory = root / "submitted" / "mallory"
    write_nb(mallory / "StyleTransfer" / "StyleTransfer.ipynb", "MALLORY = 1")
    planted = write_nb(
        mallory / "x" / "submitted" / "alice" / "StyleTransfer" / "StyleTransfer.ipynb", "STUB = 1"
    )
    os.utime(planted, (4_102_444_800, 4_102_444_800))  # dated 2100: it won under "newest wins"
    write_nb(mallory / "backup" / "StyleTransfer.ipynb", "BACKUP = 1")
    for n in range(20):
        deep = mallory.joinpath(*(f"n{i}" for i in range(n + 1)), "StyleTransfer", "StyleTransfer.ipynb")
        write_nb(deep, f"COPY = {n}")
    return real


def test_nothing_inside_a_students_folder_creates_or_replaces_another_row(tmp_path: Path) -> None:
    """Is everything in mallory's folder hers (a planted `submitted/alice/...`, a `backup/` folder,
    20 nested copies), so that alice keeps her own notebook and no phantom student appears?"""
    real = _planting_tree(tmp_path)
    kept = {s.student: s for s in resolve_duplicates(discover_submissions(tmp_path))}
    assert sorted(kept) == ["alice", "mallory"]
    assert kept["alice"].path == real and kept["alice"].problems == []
    mallory = kept["mallory"]
    assert mallory.place == ("StyleTransfer", "StyleTransfer.ipynb")
    assert "MALLORY" in mallory.notebook.cells[0].source
    assert any("23 files were submitted" in p and "backup/StyleTransfer.ipynb" in p for p in mallory.problems)


def test_one_students_folder_or_notebook_belongs_to_that_student(tmp_path: Path) -> None:
    """Given one student's folder (or one notebook) of nbgrader's layout, is everything in it theirs?"""
    _planting_tree(tmp_path)
    mallory = tmp_path / "submitted" / "mallory"
    assert {s.student for s in discover_submissions(mallory)} == {"mallory"}
    assert {s.student for s in discover_submissions(mallory / "backup")} == {"mallory"}
    (sub,) = discover_submissions(mallory / "backup" / "StyleTransfer.ipynb")
    assert sub.student == "mallory"
    plain = tmp_path / "plain" / "bo"
    write_nb(plain / "StyleTransfer" / "StyleTransfer.ipynb", "x = 1")  # bo/<assignment>/ given alone
    assert [(s.student, s.assignment) for s in discover_submissions(plain)] == [("bo", "StyleTransfer")]
