"""The student release: notebooks/ in sync with solutions/, and no solution line anywhere in it."""

from __future__ import annotations

import json

import nbformat
import pytest

from autograder.release import (
    NOTEBOOK_NAMES,
    generate_release,
    leaked_solution_lines,
    release_differences,
    release_note,
    stale_notebooks,
)
from tests.helpers.notebooks import REPO


def test_release_is_up_to_date() -> None:
    """Was notebooks/ generated from today's solutions/ (digest recorded in each student notebook)?"""
    stale = stale_notebooks()
    assert not stale, "\n".join(stale)


@pytest.mark.slow
def test_release_regenerates_identically() -> None:
    """Is notebooks/ exactly what nbgrader generates from solutions/ today, cell by cell?"""
    differences = release_differences()
    assert not differences, "notebooks/ is out of date, run `make release`:\n" + "\n".join(differences)


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_no_solution_line_leaks(name: str) -> None:
    """Does no line between BEGIN/END SOLUTION or HIDDEN TESTS appear in the student file (metadata too)?"""
    leaked = leaked_solution_lines(REPO / "notebooks" / f"{name}.ipynb", REPO / "solutions" / f"{name}.ipynb")
    assert not leaked


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_student_notebook_shape(name: str) -> None:
    """Does the student notebook start with the do-not-edit note, keep `pass` markers, carry no outputs?"""
    nb = nbformat.read(REPO / "notebooks" / f"{name}.ipynb", as_version=4)
    assert nb.cells[0].source == release_note(name)
    text = json.dumps(nb)
    assert "START OF YOUR CODE" in text and "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
        if cell.metadata.get("nbgrader", {}).get("solution"):
            assert ("pass" if cell.cell_type == "code" else "YOUR ANSWER HERE") in cell.source


def test_leak_detector_catches_a_leak(tmp_path) -> None:
    """Would the leak test notice a solution line copied into a student notebook's metadata?"""
    name = NOTEBOOK_NAMES[1]
    nb = nbformat.read(REPO / "notebooks" / f"{name}.ipynb", as_version=4)
    solution = nbformat.read(REPO / "solutions" / f"{name}.ipynb", as_version=4)
    from autograder.release import secret_lines

    secret = sorted(secret_lines(solution))[0]
    nb.metadata["note"] = secret
    leaky = tmp_path / "leaky.ipynb"
    nbformat.write(nb, leaky)
    assert leaked_solution_lines(leaky, REPO / "solutions" / f"{name}.ipynb") == [secret]


def _edited_solutions(tmp_path, edit) -> object:
    """A copy of solutions/ with ``edit(cell)`` applied to every cell."""
    folder = tmp_path / "solutions"
    folder.mkdir()
    for name in NOTEBOOK_NAMES:
        nb = nbformat.read(REPO / "solutions" / f"{name}.ipynb", as_version=4)
        for cell in nb.cells:
            edit(cell)
        nbformat.write(nb, folder / f"{name}.ipynb")
    return folder


def test_stale_release_is_noticed(tmp_path) -> None:
    """Does the staleness check notice a solution notebook edited after the release?"""

    def edit(cell) -> None:
        cell.source += "\n# edited after the release"

    stale = stale_notebooks(REPO / "notebooks", _edited_solutions(tmp_path, edit))
    assert len(stale) == len(NOTEBOOK_NAMES) and all("make release" in line for line in stale)


def test_reexecuted_solutions_keep_release_current(tmp_path) -> None:
    """Do new outputs and execution counts in solutions/ leave the release up to date?"""

    def edit(cell) -> None:
        if cell.cell_type == "code":
            cell.outputs = [nbformat.v4.new_output("stream", text="changed\n")]
            cell.execution_count = 99

    current = stale_notebooks()
    assert stale_notebooks(REPO / "notebooks", _edited_solutions(tmp_path, edit)) == current


@pytest.mark.slow
def test_release_works_with_the_venv_not_activated(tmp_path, monkeypatch) -> None:
    """Does nbgrader find its `alembic` command when the venv's bin/ is not on PATH (as under make/CI)?"""
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    written = generate_release(out_dir=tmp_path, names=("StyleTransfer",))
    assert [p.name for p in written] == ["StyleTransfer.ipynb"]
