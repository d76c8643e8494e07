"""A synthetic class with known answers, for the class-report tests: 74 submissions, two notebooks.

Built from the solution notebooks, the classic mistakes (edits stored with the solution cells), the released
stubs, a disguised copy pair, and broken/hostile cases of the grading-safety corpus. Every student
comes with the outcome each check must give (:class:`Expect`), so the tests derive the expected
report numbers by plain counting, independently of :mod:`autograder.class_report.stats`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.solution_edits import apply_edits, edits_of
from tests.grading_safety.safety_corpus import CASES, FUNCTIONS, replace_solution
from tests.helpers.notebooks import REPO, solution_nb

__all__ = ["SIMILAR_FOOLING", "Expect", "Student", "build_class", "synthetic_class"]

NV, ST = "NetworkVisualization", "StyleTransfer"


@dataclass(frozen=True)
class Expect:
    """What one check must give: status, share of the points, known mistake id, message text."""

    status: str = "passed"
    fraction: float = 1.0
    mistake: str = ""
    message: str = ""


@dataclass(frozen=True)
class Student:
    """One submission and what grading it must give.

    Attributes:
        name: unique student id (``s017-solution``: no name is a substring of another).
        notebook: the assignment.
        make: writes the submitted file to a path.
        expect: per graded function, the outcome (functions not listed: passed).
        unreadable: the file cannot be read as a notebook (no function is graded).
        filename: the submitted file's name (default ``<notebook>.ipynb``).
    """

    name: str
    notebook: str
    make: Callable[[Path], None]
    expect: dict[str, Expect] = field(default_factory=dict)
    unreadable: bool = False
    filename: str | None = None

    def outcome(self, function: str) -> Expect:
        """The expected outcome of ``function``."""
        return self.expect.get(function, Expect())


def _writer(nb: nbformat.NotebookNode) -> Callable[[Path], None]:
    return lambda path: nbformat.write(nb, path)


def _with_mistakes(notebook: str, *names: str) -> Callable[[Path], None]:
    nb = solution_nb(notebook)
    owner = {edit: function for function in FUNCTIONS[notebook] for edit in edits_of(nb, function)}
    return _writer(apply_edits(nb, [(owner[name], name) for name in names]))


def _stub(notebook: str) -> Callable[[Path], None]:
    return _writer(nbformat.read(REPO / "notebooks" / f"{notebook}.ipynb", as_version=4))


def _corpus(case: str) -> Callable[[Path], None]:
    chosen = next(c for c in CASES if c.name == case)
    return lambda path: chosen.make(path, {})


#: One hand-written make_fooling_image, submitted twice: once as is, once with other names,
#: comments and formatting. Different from the solution (while loop, add_), and correct.
SIMILAR_FOOLING = (
    """
step = 0
while step < 100:
    out = model(X_fooling)
    if out.argmax(1).item() == target_y:
        break
    out[0, target_y].backward()
    with torch.no_grad():
        grad = X_fooling.grad
        X_fooling.add_(learning_rate * grad / grad.norm())
        X_fooling.grad.zero_()
    step += 1
""",
    """
it = 0   # iteration counter
while it<100:
    logits = model( X_fooling )
    # stop once fooled
    if logits.argmax(1).item() == target_y: break
    logits[0, target_y].backward()
    with torch.no_grad():
        g = X_fooling.grad
        X_fooling.add_( learning_rate*g/g.norm() )
        X_fooling.grad.zero_()
    it += 1
""",
)

_NOT_IMPL = Expect("not_implemented", 0.0)
_ALL_NOT_IMPL = {nb: dict.fromkeys(FUNCTIONS[nb], _NOT_IMPL) for nb in (NV, ST)}


def _failed(mistake: str = "", message: str = "") -> Expect:
    return Expect("failed", 0.0, mistake, message)


def synthetic_class() -> list[Student]:
    """The 74 students (49 StyleTransfer, 25 NetworkVisualization), in a fixed order."""
    kinds: list[tuple[str, str, Callable[[Path], None], dict[str, Expect], dict]] = []

    def add(count: int, kind: str, notebook: str, make, expect=None, **extra) -> None:
        kinds.extend((kind, notebook, make, expect or {}, extra) for _ in range(count))

    # ---- StyleTransfer: 49 submissions, 3 unreadable
    add(14, "solution", ST, _writer(solution_nb(ST)))
    add(
        5,
        "content-sqrt",
        ST,
        _with_mistakes(ST, "content_not_squared"),
        {"content_loss": _failed("content_not_squared")},
    )
    add(
        5,
        "gram-unnormalized",
        ST,
        _with_mistakes(ST, "gram_unnormalized"),
        {
            "gram_matrix": Expect("partial", 0.5, "gram_unnormalized"),
            "style_loss": _failed("style_unnormalized_gram"),
        },
    )
    add(
        4,
        "gram-transposed",
        ST,
        _with_mistakes(ST, "gram_wrong_transpose"),
        {
            "gram_matrix": _failed("gram_wrong_transpose"),
            "style_loss": Expect("error", 0.0, "", "must match the size"),
        },
    )
    add(
        4,
        "style-unweighted",
        ST,
        _with_mistakes(ST, "style_weights_ignored"),
        {"style_loss": _failed("style_weights_ignored")},
    )
    add(
        3,
        "tv-loop",
        ST,
        _with_mistakes(ST, "tv_python_loop"),
        {"tv_loss": _failed("tv_python_loop", "Python loop")},
    )
    add(
        2,
        "two-mistakes",
        ST,
        _with_mistakes(ST, "content_not_squared", "style_weights_ignored"),
        {"content_loss": _failed("content_not_squared"), "style_loss": _failed("style_weights_ignored")},
    )
    add(4, "stub", ST, _stub(ST), _ALL_NOT_IMPL[ST])
    add(1, "infinite-loop", ST, _corpus("infinite_loop"), {"content_loss": Expect("timeout", 0.0)})
    add(1, "allocate-50gb", ST, _corpus("allocate_50gb"), {"content_loss": Expect("memory", 0.0)})
    add(1, "sys-exit", ST, _corpus("sys_exit"), {"content_loss": Expect("crashed", 0.0)})
    add(1, "signature-changed", ST, _corpus("signature_changed"), {"tv_loss": Expect("error", 0.0)})
    add(1, "function-renamed", ST, _corpus("function_renamed"), {"tv_loss": Expect("missing", 0.0)})
    add(1, "not-json", ST, _corpus("not_json"), unreadable=True)
    add(1, "empty-file", ST, _corpus("empty_file"), unreadable=True)
    add(
        1,
        "zip-no-notebook",
        ST,
        _corpus("zip_without_notebook"),
        unreadable=True,
        filename="StyleTransfer.zip",
    )
    # ---- NetworkVisualization: 25 submissions
    add(6, "solution", NV, _writer(solution_nb(NV)))
    add(
        3,
        "saliency-all-scores",
        NV,
        _with_mistakes(NV, "saliency_sum_of_scores"),
        {"compute_saliency_maps": _failed("saliency_sum_of_scores")},
    )
    add(
        2,
        "saliency-no-abs",
        NV,
        _with_mistakes(NV, "saliency_no_abs"),
        {"compute_saliency_maps": _failed("saliency_no_abs")},
    )
    add(
        2,
        "saliency-channel-sum",
        NV,
        _with_mistakes(NV, "saliency_sum_over_channels"),
        {"compute_saliency_maps": _failed("saliency_sum_over_channels")},
    )
    add(
        3,
        "fooling-no-no-grad",
        NV,
        _with_mistakes(NV, "in_place_update_outside_no_grad"),
        {"make_fooling_image": Expect("error", 0.0, "in_place_update_outside_no_grad", "leaf Variable")},
    )
    add(
        3,
        "classvis-sign",
        NV,
        _with_mistakes(NV, "class_vis_wrong_sign"),
        {"class_visualization_update_step": _failed("class_vis_wrong_sign")},
    )
    add(
        2,
        "classvis-unnormalized",
        NV,
        _with_mistakes(NV, "class_vis_unnormalized"),
        {"class_visualization_update_step": _failed("class_vis_unnormalized")},
    )
    add(2, "stub", NV, _stub(NV), _ALL_NOT_IMPL[NV])
    for body in SIMILAR_FOOLING:
        add(1, "own-fooling", NV, _writer(replace_solution(solution_nb(NV), "make_fooling_image", body)))

    students = []
    for index, (kind, notebook, make, expect, extra) in enumerate(kinds):
        students.append(Student(f"s{index:03d}-{kind}", notebook, make, expect, **extra))
    return students


def build_class(root: Path, students: list[Student]) -> Path:
    """Write every submission in nbgrader's layout under ``root/submitted``; return that folder."""
    submitted = Path(root) / "submitted"
    for student in students:
        path = submitted / student.name / student.notebook / (student.filename or f"{student.notebook}.ipynb")
        path.parent.mkdir(parents=True, exist_ok=True)
        student.make(path)
    return submitted
