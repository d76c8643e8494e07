"""Hand-written procedure variants (corpus.py), graded on public AND hidden references.

Every variant that is the specified computation written differently keeps full marks; every wrong
procedure loses the points its mistake says and is named (a combination of mistakes loses them without a
name). Each is graded twice, with the sources the student's kernel gives (the self-check) and with the
sources the batch grader reads from the notebook, and both verdicts must be the same.
"""

from __future__ import annotations

import itertools
import linecache
import textwrap
from pathlib import Path
from typing import Any

import nbformat
import pytest

from autograder.checks.source import ChunkSources, LiveSources
from autograder.functions import FUNCTIONS
from autograder.grading.function import grade_function
from autograder.grading.results import CheckResult
from autograder.notebook_io.extraction import extract_student_code
from autograder.references import References
from autograder.runner import CallOutcome, InProcessRunner
from tests.autograder.functions.corpus import EQUIVALENT, WRONG

#: Functions whose checks run the course network (slow).
NETWORK = {"compute_saliency_maps", "class_visualization_update_step"}
#: For style_loss, the student's own gram_matrix: a correct one (from the corpus) with the (N, C, C) unpacking
#: a target would fail, and one that flattens whatever it gets (a target's Gram matrix is then a value).
_GRAMS = {
    "unpacks": EQUIVALENT["gram_matrix"]["einsum"],
    "flattens": EQUIVALENT["gram_matrix"]["matmul_flatten"],
}
_COUNTER = itertools.count()


def _code(function: str, name: str, source: str) -> str:
    source = textwrap.dedent(source).strip() + "\n"
    if function == "style_loss":
        gram = _GRAMS["flattens" if name.endswith("_value") else "unpacks"]
        source = textwrap.dedent(gram).strip() + "\n\n\n" + source
    return "import torch\n\n\n" + source


def _define(code: str) -> dict[str, Any]:
    """Execute the code as Jupyter would: its source registered, so inspect.getsource works."""
    filename = f"<corpus cell {next(_COUNTER)}>"
    linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(code, filename, "exec"), namespace)
    return namespace


def _grade(function: str, code: str, refs: References) -> tuple[CheckResult, CheckResult]:
    """(self-check verdict, batch-grader verdict) of the function defined by ``code``."""
    func = _define(code)[function]
    outcomes: list[CallOutcome] = []
    for call in refs[function].calls:
        outcomes.append(InProcessRunner({function: func}).run(function, call))
        if outcomes[-1].status != "ok":
            break
    cell = nbformat.v4.new_code_cell(code)  # where students write: an nbgrader solution cell
    cell.metadata["nbgrader"] = {"grade_id": function, "solution": True, "grade": False, "locked": False}
    chunks, _ = extract_student_code(nbformat.v4.new_notebook(cells=[cell]))
    sources = {
        "self-check": LiveSources(function, func),
        "batch": ChunkSources((c.code, c.defines) for c in chunks),
    }
    selfcheck, batch = (
        grade_function(function, outcomes, refs, reference_set="public", sources=s) for s in sources.values()
    )
    return selfcheck, batch


def _cases(table: dict[str, dict[str, Any]]) -> list[Any]:
    params = []
    for function, variants in table.items():
        for name, entry in variants.items():
            for which in ("public", "hidden"):
                slow = function in NETWORK or which == "hidden"
                marks = [pytest.mark.slow] if slow else []
                params.append(
                    pytest.param(function, name, entry, which, marks=marks, id=f"{which}-{function}-{name}")
                )
    return params


def _same(a: CheckResult, b: CheckResult) -> bool:
    """The same verdict and numbers (an error's traceback names the cell as each path does, so only the
    first line of a message is compared)."""
    keys = ("status", "points", "mistake", "hint", "rel_error")
    first = a.message.splitlines()[:1] == b.message.splitlines()[:1]
    return first and all(getattr(a, k) == getattr(b, k) for k in keys)


@pytest.mark.parametrize(("function", "name", "source", "which"), _cases(EQUIVALENT))
def test_equivalent_procedure_keeps_full_marks(
    references, function: str, name: str, source: str, which: str
) -> None:
    """Is the specified computation, written another way, given full marks, the same in both paths?"""
    selfcheck, batch = _grade(function, _code(function, name, source), references[which])
    assert selfcheck.status == "passed", (selfcheck.message, selfcheck.hint)
    assert selfcheck.points == FUNCTIONS[function].points
    assert _same(selfcheck, batch), (selfcheck, batch)


@pytest.mark.parametrize(("function", "name", "entry", "which"), _cases(WRONG))
def test_wrong_procedure_loses_points_and_is_named(
    references, function: str, name: str, entry: tuple[str, str], which: str
) -> None:
    """Does a wrong procedure lose the points its mistake says, named by its id, the same in both paths?"""
    mistake_id, source = entry
    selfcheck, batch = _grade(function, _code(function, name, source), references[which])
    fn = FUNCTIONS[function]
    assert selfcheck.points < fn.points, selfcheck.message
    if mistake_id:
        assert selfcheck.mistake == mistake_id, (selfcheck.message, selfcheck.hint)
        assert selfcheck.points == pytest.approx(round(fn.mistake(mistake_id).credit * fn.points, 4))
        assert selfcheck.hint == fn.mistake(mistake_id).hint
    else:
        assert selfcheck.points == 0 and selfcheck.status == "failed" and selfcheck.hint == fn.fallback_hint()
    assert _same(selfcheck, batch), (selfcheck, batch)


#: Variants graded through the real batch grader too (a sandboxed student process per notebook).
_THROUGH_THE_SANDBOX = (
    ("make_fooling_image", "EQUIVALENT", "while_with_cap"),
    ("make_fooling_image", "WRONG", "gives_up_after_19_steps"),
    ("make_fooling_image", "WRONG", "always_100_steps_and_squared_norm"),
    ("gram_matrix", "WRONG", "loop_over_batch"),
    ("tv_loss", "WRONG", "alias_of_a_loop"),
    ("style_loss", "WRONG", "gram_of_the_target"),
)


@pytest.mark.slow
@pytest.mark.linux
def test_the_batch_grader_gives_the_self_check_s_verdict(references, tmp_path: Path) -> None:
    """Through the sandboxed batch grader, does each variant get the self-check's very verdict and numbers?"""
    from autograder.batch_outputs import grade_path
    from autograder.settings import GradingSettings

    expected = {}
    for function, table, name in _THROUGH_THE_SANDBOX:
        entry = (EQUIVALENT if table == "EQUIVALENT" else WRONG)[function][name]
        code = _code(function, name, entry if isinstance(entry, str) else entry[1])
        cell = nbformat.v4.new_code_cell(code)
        cell.metadata["nbgrader"] = {"grade_id": function, "solution": True, "grade": False, "locked": False}
        notebook = FUNCTIONS[function].notebook
        path = tmp_path / "submitted" / name / notebook / f"{notebook}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nbformat.v4.new_notebook(cells=[cell]), path)
        expected[(name, function)] = _grade(function, code, references["hidden"])[0]
    settings = GradingSettings("hidden", references["hidden"].path)
    run = grade_path(tmp_path / "submitted", tmp_path / "out", settings, progress=False)
    graded = {(r.student, c.function): c for r in run.results for c in r.checks}
    for key, selfcheck in expected.items():
        assert _same(graded[key], selfcheck), (key, graded[key], selfcheck)
