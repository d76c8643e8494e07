"""Fast checks of the corpus builders themselves (no grading): the cases are what they claim."""

from __future__ import annotations

import ast

import nbformat
import pytest

from tests.grading_safety.safety_corpus import (
    CASES,
    FUNCTIONS,
    HOSTILE,
    build_corpus,
    replace_solution,
    solution_nb,
    stub_notebook,
)

_VALUES = {
    "TOKEN": "tok",
    "OUT": "/nonexistent/out",
    "REPO": "/nonexistent/repo",
    "CANARY": "/x",
    "REFS": "/r",
    "PORT": "9",
    "COPY": "/c",
    "SHMID": "7",
    "SECRET": "s",
    "SHM_BYTES": "5",
}
_SMALL = [c for c in CASES if c.name not in ("notebook_200mb", "huge_outputs")]


def _python(source: str) -> str:
    """Cell source with IPython magics and shell escapes commented out (as extraction does)."""
    return "\n".join("# " + x if x.lstrip().startswith(("%", "!")) else x for x in source.split("\n"))


def _defined(nb: nbformat.NotebookNode) -> set[str]:
    names = set()
    for cell in nb.cells:
        if cell.cell_type == "code":
            try:
                tree = ast.parse(_python(cell.source))
            except SyntaxError:
                continue
            names |= {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    return names


def test_replace_solution_changes_only_its_region() -> None:
    """Does replace_solution rewrite one function's solution region, indented as the region is?"""
    nb = solution_nb("StyleTransfer")
    new = replace_solution(nb, "gram_matrix", "return 42")
    changed = [i for i, (a, b) in enumerate(zip(nb.cells, new.cells, strict=True)) if a.source != b.source]
    assert len(changed) == 1
    assert "    return 42\n" in new.cells[changed[0]].source
    assert "### BEGIN SOLUTION" in new.cells[changed[0]].source


def test_stub_notebook_raises_not_implemented() -> None:
    """Does the stub notebook hold nbgrader's NotImplementedError body for every function?"""
    text = "\n".join(c.source for c in stub_notebook("StyleTransfer").cells)
    assert text.count("raise NotImplementedError()") == len(FUNCTIONS["StyleTransfer"])


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_notebooks_parse_and_keep_the_other_functions(name: str, tmp_path) -> None:
    """Is every hostile notebook valid Python with every graded function still defined?"""
    case = next(c for c in CASES if c.name == name)
    path = tmp_path / "nb.ipynb"
    case.build(path, _VALUES)
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            ast.parse(_python(cell.source))
    assert set(FUNCTIONS["StyleTransfer"]) <= _defined(nb)
    assert "{TOKEN}" not in "".join(c.source for c in nb.cells)


def test_every_small_case_is_written(tmp_path) -> None:
    """Does build_corpus write one file per case in nbgrader's submitted/ layout?"""
    written = build_corpus(tmp_path, _VALUES, _SMALL)
    assert set(written) == {c.name for c in _SMALL}
    for name, path in written.items():
        assert path.exists(), name
        assert path.relative_to(tmp_path).parts[:2] == ("submitted", name)


def test_case_names_are_unique() -> None:
    """Is every case name (the student name in the batch) used once?"""
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))
