"""solutions/Attribution.ipynb follows the course's nbgrader conventions; its named mistakes are real ones."""

from __future__ import annotations

import ast
import copy
import re

import pytest
import torch

from autograder.checks import CHECKS
from autograder.checks.base import norm_rel_error, rel_error
from tests.helpers.attribution import (
    GRADED,
    apply_edits,
    attribution_namespace,
    call_with_fresh_model,
    check_inputs,
    mistake_edits,
    solution_notebook,
)

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
def test_self_check_may_raise_only_until_the_function_is_registered(nb, function: str) -> None:
    """Until phase 2 registers the check, check() raises KeyError and the cell needs nbval's
    raises-exception tag; once it is registered the tag must go, so that a failing check fails nbval."""
    tags = _cell(nb, f"test_{function}").metadata.get("tags", [])
    assert ("raises-exception" in tags) == (function not in CHECKS)


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


def test_every_mistake_edit_applies_and_leaves_valid_code(nb) -> None:
    """Does each mistake's edits find their text, change the cell, and leave code that parses?"""
    mistakes = mistake_edits(nb)
    assert {function for function, _ in mistakes.values()} == set(GRADED)
    for name, (function, edits) in mistakes.items():
        edited = _cell(apply_edits(nb, function, edits), function).source
        assert edited != _cell(nb, function).source, name
        ast.parse(edited)


def test_a_missing_edit_text_names_what_to_update(nb) -> None:
    """Does an edit whose text is not in the cell raise, saying to update the metadata?"""
    with pytest.raises(ValueError, match=r"metadata\.autograder\.mistakes"):
        apply_edits(nb, "grad_cam", [["not in the cell", "x"]])


#: Proposed thresholds (docs/attribution-checks.md): the value compared and the largest error accepted.
TOLERANCE = {"integrated_gradients": 1e-4, "grad_cam": 1e-4, "rank_correlation": 1e-6}


@pytest.mark.slow
@pytest.mark.parametrize("function", GRADED)
def test_each_named_mistake_shows_on_the_proposed_check_inputs(model, nb, function: str) -> None:
    """On the public check inputs, is every mistake at least 100 tolerances away from the solution, or
    recognizable otherwise (an error, a wrong shape, hooks left on the model)?"""
    model64 = copy.deepcopy(model).double() if function != "rank_correlation" else None
    call = check_inputs(function, 0)
    error = rel_error if function == "rank_correlation" else norm_rel_error
    reference, problem, hooks = call_with_fresh_model(attribution_namespace(nb)[function], call, model64)
    assert not problem and hooks == 0
    for name, (owner, edits) in mistake_edits(nb).items():
        if owner != function:
            continue
        mistaken = attribution_namespace(apply_edits(nb, function, edits))[function]
        out, problem, hooks = call_with_fresh_model(mistaken, call, model64)
        shown = (
            bool(problem) or hooks > 0 or not isinstance(out, torch.Tensor) or out.shape != reference.shape
        )
        assert shown or error(out, reference) > 100 * TOLERANCE[function], name


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
