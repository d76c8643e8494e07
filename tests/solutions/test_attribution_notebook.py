"""solutions/Attribution.ipynb follows the course's nbgrader conventions, and its student version runs.

Its graded functions' checks (solution passes, stub NOT IMPLEMENTED, every stored mistake named with its
credit, mistakes far from the answer and from each other) are the generic ones of tests/autograder/functions/.
"""

from __future__ import annotations

import ast
import re

import pytest

from tests.helpers.attribution import GRADED, solution_notebook

START = "# *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****"
END = "# *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****"
SELF_CHECK = (
    "# Self-check: compares your function with the reference outputs (public inputs).\n"
    "from autograder.selfcheck import check\n"
    'check("{f}", {f})\n'
    "### BEGIN HIDDEN TESTS\n"
    'check("{f}", {f}, hidden=True)\n'
    "### END HIDDEN TESTS"
)


@pytest.fixture(scope="module")
def nb():
    return solution_notebook()


def _cell(nb, grade_id: str):
    (cell,) = [c for c in nb.cells if c.metadata["nbgrader"]["grade_id"] == grade_id]
    return cell


def test_every_cell_has_a_unique_grade_id_that_is_its_id(nb) -> None:
    """Does every cell carry nbgrader metadata whose grade_id is unique and equals the cell id?"""
    ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells]
    assert len(ids) == len(set(ids))
    assert [c.id for c in nb.cells] == ids
    assert nb.metadata.kernelspec == {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }


@pytest.mark.parametrize("function", [*GRADED, "compute_saliency_maps_from_part_1"])
def test_solution_cells_have_the_markers_in_order(nb, function: str) -> None:
    """Solution cells: unlocked, START / BEGIN SOLUTION / END SOLUTION / END markers in order, no CS231n
    "END OF YOUR CODE" box below, a docstring with Inputs and Returns?"""
    cell = _cell(nb, function)
    meta = cell.metadata["nbgrader"]
    assert meta["solution"] and not meta["grade"] and not meta["locked"]
    source = cell.source
    positions = [source.index(m) for m in (START, "### BEGIN SOLUTION", "### END SOLUTION", END)]
    assert positions == sorted(positions)
    assert "#####\n" not in source[positions[-1] :]
    tree = ast.parse(source)
    docstring = ast.get_docstring(tree.body[0])
    assert "Returns:" in docstring and ("Inputs:" in docstring or "Input:" in docstring)


@pytest.mark.parametrize("function", GRADED)
def test_self_check_cells_read_exactly_the_course_template(nb, function: str) -> None:
    """Is each graded function followed by its self-check cell, worth points, reading the template?"""
    index = [c.id for c in nb.cells].index(function)
    cell = nb.cells[index + 1]
    assert cell.id == f"test_{function}"
    assert cell.metadata["nbgrader"]["grade"] and cell.metadata["nbgrader"]["points"] > 0
    assert cell.source == SELF_CHECK.format(f=function)


@pytest.mark.parametrize("function", GRADED)
def test_self_check_cells_may_not_raise(nb, function: str) -> None:
    """Is no self-check cell tagged raises-exception (nbval would then accept a failing check)?"""
    assert "raises-exception" not in _cell(nb, f"test_{function}").metadata.get("tags", [])


def test_inline_questions_come_with_graded_written_answers(nb) -> None:
    """Inline question N (locked markdown) is followed by answer N (1 point, a solution region)?"""
    questions = [c for c in nb.cells if re.fullmatch(r"inline-question-\d", c.id)]
    assert len(questions) == 5
    for question in questions:
        answer = nb.cells[nb.cells.index(question) + 1]
        assert answer.id == question.id.replace("question", "answer")
        assert answer.cell_type == "markdown" and question.metadata["nbgrader"]["locked"]
        meta = answer.metadata["nbgrader"]
        assert meta["grade"] and meta["solution"] and meta["points"] == 1
        assert "### BEGIN SOLUTION" in answer.source and "### END SOLUTION" in answer.source
        assert "TBD" not in answer.source


@pytest.mark.slow
def test_the_student_version_runs_top_to_bottom_and_says_what_to_implement(nb) -> None:
    """With every solution region replaced by `pass` (what students get), does "Run All" finish with no error
    outside the self-check cells, and do the demo cells say which function to implement first?"""
    from nbclient import NotebookClient

    from tests.helpers.notebooks import REPO, replace_solution

    stub = nb
    for function in (*GRADED, "compute_saliency_maps_from_part_1"):
        stub = replace_solution(stub, function, "pass")
    NotebookClient(
        stub, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(REPO / "solutions")}}
    ).execute()
    errors = [c.id for c in stub.cells if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    assert set(errors) <= {f"test_{f}" for f in GRADED}, errors
    printed = "".join(
        o.get("text", "")
        for c in stub.cells
        for o in c.get("outputs", [])
        if o.get("output_type") == "stream"
    )
    for message in (
        "integrated_gradients returned None",
        "grad_cam returned None",
        "Implement the functions",
    ):
        assert message in printed
