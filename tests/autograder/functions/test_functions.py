"""Every graded function: the solution passes, the stub is NOT IMPLEMENTED, every stored mistake is named.

Each stored edit of a solution cell (``metadata.autograder.edits``) reproduces one named mistake (or an
error the checks name, such as ``in_place_update_outside_no_grad``); run through the self-check, it
must lose exactly the credit its mistake says, with its id and hint. Functions that run the course
network are marked slow.
"""

from __future__ import annotations

import copy

import pytest
import torch

from autograder.checks.compare import norm_rel_error
from autograder.checks.errors import ERROR_HINTS
from autograder.functions import FUNCTIONS
from autograder.grading.results import CheckResult, SubmissionResult
from autograder.references import load_references
from autograder.runner import MODEL_FLOAT64
from autograder.selfcheck import run_check
from tests.helpers.notebooks import (
    EditCase,
    edit_cases,
    mistake_functions,
    solution_functions,
    stub_functions,
)

#: Functions whose checks run the course network (a few seconds each): slow.
NETWORK = {"compute_saliency_maps", "class_visualization_update_step"}


def _by_cost(values, function_of=lambda v: v, ids=None):
    return [
        pytest.param(v, marks=pytest.mark.slow, id=ids(v) if ids else None)
        if function_of(v) in NETWORK
        else pytest.param(v, id=ids(v) if ids else None)
        for v in values
    ]


@pytest.mark.parametrize("function", _by_cost(list(FUNCTIONS)))
def test_solution_passes(function: str) -> None:
    """Does the solution notebook's own function earn full points?"""
    result = run_check(function, solution_functions(FUNCTIONS[function].notebook)[function])
    assert result.status == "passed", result.message
    assert result.points == result.max_points


@pytest.mark.parametrize("function", list(FUNCTIONS))
def test_stub_is_not_implemented(function: str) -> None:
    """Does the untouched student stub get "NOT IMPLEMENTED YET" and 0 points, without raising?"""
    result = run_check(function, stub_functions(FUNCTIONS[function].notebook)[function])
    assert result.status == "not_implemented", result.message
    assert "NOT IMPLEMENTED YET" in result.message and "START and END markers" in result.message
    assert result.points == 0


@pytest.mark.parametrize("case", _by_cost(edit_cases(), lambda c: c.function, str))
def test_each_stored_mistake_is_named_with_its_credit(case: EditCase) -> None:
    """Is each solution edit named by its id, with its hint, and does it earn exactly its credit?"""
    result = run_check(case.function, mistake_functions(case)[case.function])
    assert result.mistake == case.edit, result.message
    fn = FUNCTIONS[case.function]
    if case.edit in {m.id for m in fn.mistakes}:
        mistake = fn.mistake(case.edit)
        assert result.hint == mistake.hint
        assert result.points == pytest.approx(round(mistake.credit * fn.points, 4))
        assert result.status == ("partial" if mistake.credit > 0 else result.status)
    else:  # an error every check names (ERROR_HINTS)
        assert case.edit in {name for _, name, _ in ERROR_HINTS}
        assert result.status == "error" and result.points == 0


def test_every_output_mistake_has_an_edit() -> None:
    """Does every mistake recognised by its output (or named by a judge) have an edit reproducing it?"""
    stored = {(c.function, c.edit) for c in edit_cases()}
    for fn in FUNCTIONS.values():
        for mistake in fn.mistakes:
            assert (fn.name, mistake.id) in stored, f"{fn.name}: no edit reproduces {mistake.id}"


@pytest.mark.parametrize("function", list(FUNCTIONS))
def test_stored_mistake_outputs_are_far_from_the_answer(function: str) -> None:
    """Is every stored mistake output at least 100 thresholds from the answer on some case?"""
    ref = load_references()[function]
    fn = FUNCTIONS[function]
    for mistake, outputs in ref.variants.items():
        distances = [
            fn.tolerance.error(out, exp) if out.shape == exp.shape else float("inf")
            for out, exp in zip(outputs, ref.expected, strict=True)
        ]
        assert max(distances) > 100 * fn.tolerance.threshold, mistake


def test_missing_function() -> None:
    """Is a function that is not defined reported as missing, not as a crash?"""
    assert run_check("gram_matrix", None).status == "missing"


def test_wrong_shape_says_what_was_expected() -> None:
    """Does a wrongly shaped result name the expected shape and the case?"""

    def gram_matrix(features, normalize=True):
        return features.sum(dim=1)

    result = run_check("gram_matrix", gram_matrix)
    assert result.status == "failed"
    assert "expected shape (2, 8, 8), got (2, 6, 5) (normalize=True)" in result.message


def test_exception_is_reported_with_its_type_and_message() -> None:
    """Does an exception become an 'error' result with its type and message?"""

    def content_loss(content_weight, content_current, content_original):
        raise ValueError("oops")

    result = run_check("content_loss", content_loss)
    assert result.status == "error"
    assert "ValueError: oops" in result.message


def test_printed_output_stays_out_of_the_message() -> None:
    """Is what the student's function prints kept beside the verdict, never inside its message?"""

    def tv_loss(img, tv_weight):
        import sys
        import warnings

        print("  3%|#         | 1/30 [00:01<00:29]", file=sys.stderr)
        warnings.warn("UserWarning from the student's code", stacklevel=1)
        return img.sum() * 0

    result = run_check("tv_loss", tv_loss)
    assert result.status == "failed"
    assert "it/s" not in result.message and "|" not in result.message and "Warning" not in result.message


def test_mistake_id_survives_json() -> None:
    """Is CheckResult.mistake written to and read back from the results JSON?"""
    check = CheckResult("gram_matrix", "public", 1.5, 3.0, "partial", "m", "h", mistake="gram_unnormalized")
    back = SubmissionResult.from_json(SubmissionResult("s", "StyleTransfer", 1.5, 3.0, [check]).to_json())
    assert back.checks[0].mistake == "gram_unnormalized"


def test_gradient_checks_run_in_float64() -> None:
    """Do the gradient checks send float64 inputs and ask for the float64 model?"""
    for function in ("compute_saliency_maps", "class_visualization_update_step"):
        for call in FUNCTIONS[function].cases({"seed": 0}):
            assert call.args[0].dtype == torch.float64
            assert MODEL_FLOAT64 in call.args


def _with_threads(n: int, fn):
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        return fn()
    finally:
        torch.set_num_threads(before)


#: Seeds of the saliency check; in float32 the answer for 1234 depends on the thread count (a ReLU6
#: unit flips: 4e-4), which broke the nbgrader end-to-end test when the references were built with
#: 1 thread and checked with 2.
NOISE_SEEDS = (0, 1, 1234)
#: Seeds of the class-visualization check; in float32, 13 and 22 flip with the thread count (1e-3).
STEP_NOISE_SEEDS = (0, 13, 22)


@pytest.mark.slow
@pytest.mark.parametrize("seed", NOISE_SEEDS)
def test_correct_saliency_variants_agree(model, seed: int) -> None:
    """Do correct saliency computations (gather, indexing, one image at a time, 1 or 2 threads) agree
    far below the threshold on the check's own inputs and float64 model?"""
    (call,) = FUNCTIONS["compute_saliency_maps"].cases({"seed": seed})
    X, y = call.args[0], call.args[1]
    model64 = copy.deepcopy(model).double()

    def saliency(fn, images):
        images = images.clone().requires_grad_()
        fn(model64(images)).backward()
        return images.grad.abs().amax(dim=1)

    gathered = _with_threads(1, lambda: saliency(lambda s: s.gather(1, y.view(-1, 1)).sum(), X))
    others = [
        _with_threads(2, lambda: saliency(lambda s: s.gather(1, y.view(-1, 1)).sum(), X)),
        _with_threads(2, lambda: saliency(lambda s: s[torch.arange(len(y)), y].sum(), X)),
        torch.cat([saliency(lambda s, i=i: s[0, y[i]], X[i : i + 1]) for i in range(len(y))]),
        gathered.float(),  # a student who stores the map in a float32 buffer
    ]
    threshold = FUNCTIONS["compute_saliency_maps"].tolerance.threshold
    for other in others:
        assert norm_rel_error(other, gathered) < threshold / 100


@pytest.mark.slow
@pytest.mark.parametrize("seed", STEP_NOISE_SEEDS)
def test_class_visualization_step_is_thread_independent(model, seed: int) -> None:
    """Does the gradient behind the reference step come out the same with 1 and 2 threads?"""
    fn = FUNCTIONS["class_visualization_update_step"]
    model64 = copy.deepcopy(model).double()
    for call in fn.cases({"seed": seed}):
        img, target = call.args[0], call.args[2]

        def gradient(img=img, target=target):
            x = img.detach().clone().requires_grad_()
            model64(x)[0, target].backward()
            return x.grad

        one, two = _with_threads(1, gradient), _with_threads(2, gradient)
        assert norm_rel_error(two, one) < fn.tolerance.threshold / 100


@pytest.mark.parametrize("function", list(FUNCTIONS))
def test_stored_mistakes_can_be_told_apart(function: str) -> None:
    """Do any two stored mistakes differ, on some case, by several times the matching threshold? (A
    student who makes one reproduces its outputs within 1e-4, the float16 storage, so 4x leaves room.)"""
    from itertools import combinations

    ref = load_references()[function]
    fn = FUNCTIONS[function]
    for (a, outs_a), (b, outs_b) in combinations(ref.variants.items(), 2):
        distances = [
            fn.tolerance.error(x, y) if x.shape == y.shape else float("inf")
            for x, y in zip(outs_a, outs_b, strict=True)
        ]
        assert max(distances) > 4 * fn.tolerance.match, (a, b)
