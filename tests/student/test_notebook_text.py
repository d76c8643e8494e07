"""What the student notebooks say and declare, read from the files (issue 24 and the restructure)."""

from __future__ import annotations

import ast

import nbformat
import pytest

from autograder.course import NOTEBOOKS
from autograder.functions import function_names
from autograder.settings import NOTEBOOKS_DIR, SOLUTIONS_DIR

NOTEBOOK_FILES = [d / f"{name}.ipynb" for d in (SOLUTIONS_DIR, NOTEBOOKS_DIR) for name in NOTEBOOKS]


def _grade_id(cell: nbformat.NotebookNode) -> str:
    return cell.metadata.get("nbgrader", {}).get("grade_id", "")


@pytest.mark.parametrize("path", NOTEBOOK_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_kernelspec_is_the_one_jupyterlab_writes(path):
    """Item 8: does the notebook carry "Python 3 (ipykernel)", so that opening it does not modify it?"""
    kernelspec = nbformat.read(path, as_version=4).metadata.kernelspec
    expected = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    assert dict(kernelspec) == expected


@pytest.mark.parametrize("path", NOTEBOOK_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_each_graded_function_has_one_start_and_one_end_marker(path):
    """Item 5: no CS231n ``END OF YOUR CODE`` box under the official END marker (two END markers)."""
    nb = nbformat.read(path, as_version=4)
    functions = function_names(path.stem)
    for cell in nb.cells:
        if _grade_id(cell) in functions:
            assert cell.source.count("START OF YOUR CODE") == 1, _grade_id(cell)
            assert cell.source.count("END OF YOUR CODE") == 1, _grade_id(cell)
            end = next(line for line in cell.source.splitlines() if "END OF YOUR CODE" in line)
            assert end.strip() == "# *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****"


@pytest.mark.parametrize("name", list(NOTEBOOKS))
def test_written_answers_use_one_id_scheme(name):
    """Are the inline questions and answers ``inline-question-N`` / ``inline-answer-N`` in every notebook,
    and are the answers exactly the written answers the course registers?"""
    nb = nbformat.read(SOLUTIONS_DIR / f"{name}.ipynb", as_version=4)
    ids = [_grade_id(c) for c in nb.cells if _grade_id(c).startswith("inline")]
    answers = tuple(i for i in ids if i.startswith("inline-answer-"))
    assert answers == NOTEBOOKS[name].written_answers
    assert all(i.startswith(("inline-answer-", "inline-question-")) for i in ids), ids
    for cell in nb.cells:
        if _grade_id(cell).startswith("inline"):
            assert cell.get("id") == _grade_id(cell)


def test_style_transfer_reads_its_examples_from_the_presets():
    """Does no StyleTransfer cell spell out a hyper-parameter dictionary (they live in style_presets)?"""
    nb = nbformat.read(SOLUTIONS_DIR / "StyleTransfer.ipynb", as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    for source in code:
        tree = ast.parse("\n".join(line for line in source.splitlines() if not line.startswith("%")))
        keys = {k.value for node in ast.walk(tree) if isinstance(node, ast.Dict) for k in node.keys if k}
        assert "style_weights" not in keys, source[:200]
    used = "\n".join(code)
    for preset in ("composition_vii", "the_scream", "starry_night"):
        assert f'STYLE_PRESETS["{preset}"]' in used


@pytest.mark.parametrize("name", list(NOTEBOOKS))
def test_not_implemented_message_names_what_the_stub_returns(name):
    """Item 6: where the stub sets ``<name> = None`` and returns it after the END marker, does the NOT
    IMPLEMENTED message say "<name> is still None" (and never ask to "return the result")?"""
    from autograder.functions import FUNCTIONS

    nb = nbformat.read(NOTEBOOKS_DIR / f"{name}.ipynb", as_version=4)
    for cell in nb.cells:
        function = _grade_id(cell)
        if function not in function_names(name):
            continue
        after = cell.source.split("END OF YOUR CODE", 1)[1].splitlines()[1:]
        returned = next((line.split("return", 1)[1].strip() for line in after if "return " in line), "")
        expected = returned if returned and f"{returned} = None" in cell.source else ""
        assert FUNCTIONS[function].stub_returns == expected, function
