"""The student release: ``notebooks/*.ipynb`` generated from ``solutions/*.ipynb`` by real nbgrader.

``python -m autograder release`` (``make release``) copies each solution notebook into a temporary
nbgrader course directory (``source/<Name>/<Name>.ipynb``, one assignment per notebook, with a
fresh sqlite gradebook), runs ``nbgrader generate_assignment`` through nbgrader's Python API with

* ``ClearSolutions.code_stub = {"python": "pass"}``: students see CS231n's START/END markers with
  ``pass`` between them, and ``text_stub = "YOUR ANSWER HERE"`` for written answers;
* nbgrader's own ``ClearHiddenTests``, ``ClearOutput``, ``LockCells`` and ``ComputeChecksums``,

then puts a first markdown cell saying where the file comes from, strips what nbgrader leaves that
changes from run to run (execution counts, outputs) and writes ``notebooks/<Name>.ipynb``.

:func:`release_differences` regenerates to a temporary folder and compares, for the test that
fails when ``notebooks/`` is out of date; :func:`leaked_solution_lines` finds solution or hidden-test
lines in a student notebook, for the test that none ever leaks.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import nbformat

from autograder.course import notebook_names
from autograder.settings import NOTEBOOKS_DIR, SOLUTIONS_DIR
from autograder.solution_edits import EDITS_KEY

__all__ = [
    "CODE_STUB",
    "NOTEBOOKS_DIR",
    "NOTEBOOK_NAMES",
    "SOLUTIONS_DIR",
    "TEXT_STUB",
    "generate_release",
    "leaked_solution_lines",
    "nbgrader_environment",
    "release_differences",
    "release_note",
    "secret_lines",
    "solution_digest",
    "stale_notebooks",
]

#: The released notebooks, in course order (each is its own nbgrader assignment of the same name).
NOTEBOOK_NAMES: tuple[str, ...] = notebook_names()

#: What replaces a solution region in code cells: the CS231n markers stay, ``pass`` between them.
CODE_STUB: dict[str, str] = {"python": "pass"}
#: What replaces a solution region in markdown cells (written answers).
TEXT_STUB = "YOUR ANSWER HERE"

#: Id of the first cell of every student notebook (what students may edit; provenance for instructors).
RELEASE_NOTE_ID = "release-note"

#: Region markers whose content students must never see.
_SECRET_REGIONS: tuple[tuple[str, str], ...] = (
    ("BEGIN SOLUTION", "END SOLUTION"),
    ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS"),
)


def release_note(name: str) -> str:
    """The text of the first cell of ``notebooks/<name>.ipynb``."""
    return (
        "**This is your copy: edit it.** Write your code between the `START OF YOUR CODE` and `END OF "
        "YOUR CODE` markers and your written answers where it says `YOUR ANSWER HERE`. Keep the "
        "functions' names and arguments and leave the other cells as they are: the self-checks and the "
        "grader look for your functions by name.\n\n"
        f"<small>For instructors: generated from `solutions/{name}.ipynb` by `make release`; change "
        "the solution notebook, never this file.</small>"
    )


def solution_digest(solution_nb: nbformat.NotebookNode) -> str:
    """sha256 over what the release is made from: each cell's type, id, source and metadata.

    Outputs and execution counts are left out, so re-executing a solution notebook does not make
    the release stale; so are the mistakes' edits (:mod:`autograder.solution_edits`), which the release
    strips.
    """
    cells = [
        [cell.cell_type, cell.get("id"), cell.source, _released_metadata(cell)] for cell in solution_nb.cells
    ]
    return hashlib.sha256(json.dumps(cells, sort_keys=True).encode("utf-8")).hexdigest()


def _released_metadata(cell: nbformat.NotebookNode) -> dict[str, Any]:
    metadata = json.loads(json.dumps(cell.metadata))
    metadata.pop(EDITS_KEY, None)
    return metadata


def _nbgrader_config(course_root: Path) -> Any:
    from traitlets.config import Config

    config = Config()
    config.CourseDirectory.root = str(course_root)
    config.CourseDirectory.db_url = f"sqlite:///{course_root / 'gradebook.db'}"
    config.ClearSolutions.code_stub = dict(CODE_STUB)
    config.ClearSolutions.text_stub = TEXT_STUB
    # Output would only hold the solution's results; nbgrader clears it anyway, say so explicitly.
    config.ClearOutput.enabled = True
    return config


@contextlib.contextmanager
def nbgrader_environment() -> Iterator[None]:
    """Put this interpreter's ``bin`` folder first on ``PATH`` while nbgrader runs.

    nbgrader creates its gradebook by running the ``alembic`` command, which is installed beside
    this Python; without this, a venv that is used but not activated (``.venv/bin/python -m ...``,
    as ``make`` and CI do) fails with "No such file or directory: 'alembic'".
    """
    before = os.environ.get("PATH", "")
    os.environ["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), before])
    try:
        yield
    finally:
        os.environ["PATH"] = before


def _run_generate_assignment(course_root: Path, name: str) -> Path:
    """Run nbgrader's generate_assignment for one assignment; return the released notebook's path."""
    from nbgrader.apps import NbGraderAPI

    with nbgrader_environment():
        api = NbGraderAPI(config=_nbgrader_config(course_root))
        outcome = api.generate_assignment(name, force=True, create=True)
    released = course_root / "release" / name / f"{name}.ipynb"
    if not outcome.get("success") or not released.exists():
        raise RuntimeError(
            f"nbgrader generate_assignment failed for solutions/{name}.ipynb; fix the notebook "
            f"(nbgrader metadata, BEGIN/END SOLUTION markers) and rerun `make release`.\n"
            f"{outcome.get('error', '')}\n{outcome.get('log', '')}".strip()
        )
    return released


def _finish(nb: nbformat.NotebookNode, name: str, digest: str) -> nbformat.NotebookNode:
    """Strip volatile fields and the mistakes' edits, record the source's digest and put the "generated, do
    not edit" note first."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
        cell.metadata.pop("collapsed", None)
        cell.metadata.pop(EDITS_KEY, None)  # the mistakes' edits are solution code
    nb.metadata.pop("widgets", None)
    nb.metadata["autograder_release"] = {"generated_from": f"solutions/{name}.ipynb", "source_sha256": digest}
    note = nbformat.v4.new_markdown_cell(release_note(name))
    note.id = RELEASE_NOTE_ID
    note.metadata = {"deletable": False, "editable": False}
    if nb.cells and nb.cells[0].get("id") == RELEASE_NOTE_ID:
        nb.cells[0] = note
    else:
        nb.cells.insert(0, note)
    return nb


def generate_release(
    out_dir: Path = NOTEBOOKS_DIR,
    solutions_dir: Path = SOLUTIONS_DIR,
    names: Sequence[str] = NOTEBOOK_NAMES,
) -> list[Path]:
    """Generate the student notebooks from the solution notebooks with ``nbgrader generate_assignment``.

    Args:
        out_dir: where ``<name>.ipynb`` is written (created if needed; other files are left alone).
        solutions_dir: folder holding the nbgrader source notebooks ``<name>.ipynb``.
        names: which notebooks to release.

    Returns:
        The paths written, in the order of ``names``.

    Raises:
        FileNotFoundError: when a solution notebook is missing.
        RuntimeError: when nbgrader refuses a notebook (its log is in the message).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="autograder-release-") as tmp:
        course_root = Path(tmp)
        for name in names:
            source = Path(solutions_dir) / f"{name}.ipynb"
            if not source.exists():
                raise FileNotFoundError(
                    f"{source} not found: the release is generated from solutions/<name>.ipynb"
                )
            (course_root / "source" / name).mkdir(parents=True)
            shutil.copyfile(source, course_root / "source" / name / f"{name}.ipynb")
        for name in names:
            released = _run_generate_assignment(course_root, name)
            digest = solution_digest(nbformat.read(Path(solutions_dir) / f"{name}.ipynb", as_version=4))
            nb = _finish(nbformat.read(released, as_version=4), name, digest)
            target = out_dir / f"{name}.ipynb"
            partial = target.with_suffix(".ipynb.tmp")
            nbformat.write(nb, partial)
            partial.replace(target)
            written.append(target)
    return written


def stale_notebooks(
    notebooks_dir: Path = NOTEBOOKS_DIR,
    solutions_dir: Path = SOLUTIONS_DIR,
    names: Sequence[str] = NOTEBOOK_NAMES,
) -> list[str]:
    """Quick staleness check without nbgrader: compare the digest each student notebook records.

    Returns:
        One line per student notebook that is missing or was generated from a different version of
        its solution notebook; empty when ``notebooks_dir`` is up to date.
    """
    problems: list[str] = []
    for name in names:
        student_path = Path(notebooks_dir) / f"{name}.ipynb"
        if not student_path.exists():
            problems.append(f"{student_path} is missing: run `make release`")
            continue
        recorded = nbformat.read(student_path, as_version=4).metadata.get("autograder_release", {})
        current = solution_digest(nbformat.read(Path(solutions_dir) / f"{name}.ipynb", as_version=4))
        if recorded.get("source_sha256") != current:
            problems.append(f"{student_path} is out of date with solutions/{name}.ipynb: run `make release`")
    return problems


def _comparable(nb: nbformat.NotebookNode) -> list[dict[str, Any]]:
    """Each cell's type, source, id and metadata: what a student sees and nbgrader reads."""
    return [
        {
            "cell_type": cell.cell_type,
            "id": cell.get("id"),
            "source": cell.source,
            "metadata": json.loads(json.dumps(cell.metadata)),
        }
        for cell in nb.cells
    ]


def release_differences(
    notebooks_dir: Path = NOTEBOOKS_DIR,
    solutions_dir: Path = SOLUTIONS_DIR,
    names: Sequence[str] = NOTEBOOK_NAMES,
) -> list[str]:
    """Regenerate the release into a temporary folder and list how ``notebooks_dir`` differs from it.

    Cell types, ids, sources and metadata are compared; outputs and execution counts are ignored
    (the release has none).

    Returns:
        One plain-language line per difference; empty when the release is up to date.
    """
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="autograder-release-check-") as tmp:
        fresh_paths = generate_release(Path(tmp), solutions_dir, names)
        for name, fresh_path in zip(names, fresh_paths, strict=True):
            current_path = Path(notebooks_dir) / f"{name}.ipynb"
            if not current_path.exists():
                problems.append(f"{current_path} is missing")
                continue
            fresh = _comparable(nbformat.read(fresh_path, as_version=4))
            current = _comparable(nbformat.read(current_path, as_version=4))
            if len(fresh) != len(current):
                problems.append(f"{name}: {len(current)} cells, the release would have {len(fresh)}")
            for index, (want, have) in enumerate(zip(fresh, current, strict=False)):
                for key in want:
                    if want[key] != have[key]:
                        problems.append(f"{name}: cell {index} ({want['id']}) differs in {key}")
    return problems


def _region_lines(source: str) -> tuple[set[str], set[str]]:
    """Stripped lines of a source inside secret regions, and those outside them."""
    inside: set[str] = set()
    outside: set[str] = set()
    open_end: str | None = None
    for raw in source.splitlines():
        line = raw.strip()
        if open_end is None:
            begin = next((end for start, end in _SECRET_REGIONS if start in line), None)
            if begin is not None:
                open_end = begin
            elif line:
                outside.add(line)
        elif open_end in line:
            open_end = None
        elif line:
            inside.add(line)
    return inside, outside


def secret_lines(solution_nb: nbformat.NotebookNode) -> set[str]:
    """Lines between BEGIN/END SOLUTION or BEGIN/END HIDDEN TESTS that appear nowhere else in the notebook.

    A line that is also visible outside every secret region (``pass``, ``return loss`` written in
    the skeleton too) gives nothing away and is not counted.
    """
    inside: set[str] = set()
    outside: set[str] = set()
    for cell in solution_nb.cells:
        cell_inside, cell_outside = _region_lines(cell.source)
        inside |= cell_inside
        outside |= cell_outside
    return inside - outside


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def leaked_solution_lines(student_path: Path, solution_path: Path) -> list[str]:
    """Solution and hidden-test lines of ``solution_path`` found anywhere in ``student_path``.

    Every string of the student file's JSON (sources, outputs, metadata at every level) is split
    into lines and compared, stripped, with :func:`secret_lines` of the solution notebook.

    Returns:
        The leaked lines, sorted; empty when nothing leaked.
    """
    secrets = secret_lines(nbformat.read(solution_path, as_version=4))
    student = json.loads(Path(student_path).read_text(encoding="utf-8"))
    seen = {line.strip() for text in _strings(student) for line in text.splitlines()}
    return sorted(secrets & seen)
