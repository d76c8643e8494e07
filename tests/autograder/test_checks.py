"""Each check passes on the solution, says NOT IMPLEMENTED on the stub, and names each classic mistake."""

from __future__ import annotations

import copy

import pytest
import torch

from autograder.checks import CHECKS, GradingContext, checks_for
from autograder.checks.base import compare_values, norm_rel_error, python_loops, rel_error
from autograder.grading.results import CheckResult, SubmissionResult
from autograder.mistakes import MISTAKES
from autograder.references import load_references
from autograder.runner import CallOutcome
from autograder.selfcheck import run_check
from autograder.settings import PUBLIC_REFERENCES as PUBLIC_PATH
from autograder.tolerances import NORM_BASED, REL_ERROR
from tests.helpers.notebooks import mistake_functions, solution_functions, stub_functions


def _notebook(function: str) -> str:
    return CHECKS[function].notebook


def _by_cost(values, function_of=lambda v: v, ids=None):
    """Parametrize values; those running the network (NetworkVisualization) are marked slow."""
    return [
        pytest.param(v, marks=pytest.mark.slow, id=ids(v) if ids else None)
        if CHECKS[function_of(v)].notebook == "NetworkVisualization"
        else pytest.param(v, id=ids(v) if ids else None)
        for v in values
    ]


@pytest.mark.parametrize("function", _by_cost(list(CHECKS)))
def test_solution_passes(function: str) -> None:
    """Does the solution notebook's own function earn full points?"""
    result = run_check(function, solution_functions(_notebook(function))[function])
    assert result.status == "passed", result.message
    assert result.points == result.max_points


@pytest.mark.parametrize("function", list(CHECKS))
def test_stub_is_not_implemented(function: str) -> None:
    """Does the untouched student stub get "NOT IMPLEMENTED YET" and 0 points, without raising?"""
    result = run_check(function, stub_functions(_notebook(function))[function])
    assert result.status == "not_implemented", result.message
    assert "NOT IMPLEMENTED YET" in result.message
    assert result.points == 0


@pytest.mark.parametrize("mistake", _by_cost(MISTAKES, lambda m: m.function, lambda m: m.name))
def test_classic_mistake_is_named(mistake) -> None:
    """Is each classic mistake caught, with the hint and the mistake id that name it?"""
    result = run_check(mistake.function, mistake_functions(mistake)[mistake.function])
    assert result.status == mistake.expect_status, result.message
    assert mistake.expect_in_hint in result.hint + result.message
    assert result.mistake == mistake.expect_mistake, result.message
    assert result.points < result.max_points


def test_missing_function() -> None:
    """Is a function that is not defined reported as missing, not as a crash?"""
    result = run_check("gram_matrix", None)
    assert result.status == "missing"


def test_wrong_shape_says_what_was_expected() -> None:
    """Does a wrongly shaped result name the expected shape?"""

    def gram_matrix(features, normalize=True):
        return features.sum(dim=1)

    result = run_check("gram_matrix", gram_matrix)
    assert result.status == "failed"
    assert "expected shape (2, 8, 8)" in result.message


def test_exception_is_reported_with_student_line() -> None:
    """Does an exception become an 'error' result with its type and message?"""

    def content_loss(content_weight, content_current, content_original):
        raise ValueError("oops")

    result = run_check("content_loss", content_loss)
    assert result.status == "error"
    assert "ValueError: oops" in result.message


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
    call = CHECKS["compute_saliency_maps"].make_call(seed)
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
    threshold = REL_ERROR["compute_saliency_maps"]
    for other in others:
        assert norm_rel_error(other, gathered) < threshold / 100


@pytest.mark.slow
@pytest.mark.parametrize("seed", STEP_NOISE_SEEDS)
def test_class_visualization_step_is_thread_independent(model, seed: int) -> None:
    """Does the reference step come out the same with 1 and 2 threads (float64, check inputs)?"""
    check = CHECKS["class_visualization_update_step"]
    call = check.make_call(seed)
    model64 = copy.deepcopy(model).double()
    img, target = call.args[0], call.args[2]

    def gradient():
        x = img.detach().clone().requires_grad_()
        model64(x)[0, target].backward()
        return x.grad

    one, two = _with_threads(1, gradient), _with_threads(2, gradient)
    assert norm_rel_error(two, one) < REL_ERROR[check.function] / 100


def test_gradient_checks_run_in_float64() -> None:
    """Do the two gradient checks send float64 inputs and ask for the float64 model?"""
    from autograder.runner import MODEL_FLOAT64

    for function in ("compute_saliency_maps", "class_visualization_update_step"):
        call = CHECKS[function].make_call(0)
        assert call.args[0].dtype == torch.float64
        assert MODEL_FLOAT64 in call.args


@pytest.mark.parametrize("function", list(CHECKS))
def test_known_mistakes_are_far_from_the_answer(function: str) -> None:
    """Is every stored known-mistake output far outside the accepted error (no false 'looks like')?"""
    refs = load_references()
    expected = refs.entries[function]["expected"]
    error = norm_rel_error if function in NORM_BASED else rel_error
    for name, variant in refs.variants(function).items():
        if variant.output.shape == expected.shape:
            assert error(variant.output, expected) > 100 * REL_ERROR[function], name


def test_partial_credit_for_unnormalized_gram() -> None:
    """Does an unnormalized Gram matrix earn part of the points, with the normalization hint?"""
    refs = load_references()
    call = CHECKS["gram_matrix"].make_call(refs.seed)
    f = call.args[0]
    flat = f.reshape(f.shape[0], f.shape[1], -1)
    outcome = CallOutcome("ok", value=flat @ flat.transpose(1, 2))
    ctx = GradingContext(variants=refs.variants("gram_matrix"))
    verdict = CHECKS["gram_matrix"].grade(outcome, refs.entries["gram_matrix"]["expected"], call, ctx)
    assert verdict.status == "partial" and 0 < verdict.fraction < 1
    assert "H * W * C" in verdict.hint


def test_compare_values_rejects_nan() -> None:
    """Is a NaN result a failure rather than a pass (NaN comparisons are always False)?"""
    verdict = compare_values(torch.full((2, 2), float("nan")), torch.ones(2, 2), 1e-3, {}, "hint")
    assert verdict.status == "failed"


def test_python_loops_found_in_source() -> None:
    """Are for/while loops and comprehensions found, and straight-line code not?"""
    assert python_loops("def f(x):\n    for i in range(3):\n        x = x + i\n    return x\n") == [2]
    assert python_loops("def f(x):\n    return sum(v for v in x)\n") == [2]
    assert python_loops("def f(x):\n    return x[1:] - x[:-1]\n") == []


def test_checks_cover_both_notebooks() -> None:
    """Does every graded function of both notebooks have exactly one check?"""
    names = [c.function for nb in ("NetworkVisualization", "StyleTransfer") for c in checks_for(nb)]
    assert sorted(names) == sorted(CHECKS)


def test_stored_hints_are_replaced_by_the_checks_current_ones(tmp_path) -> None:
    """Does a reference file with an old hint for a known mistake show the check's current hint?"""
    payload = torch.load(PUBLIC_PATH, weights_only=True)
    payload["entries"]["gram_matrix"]["variants"]["gram_unnormalized"]["hint"] = "old hint with the answer"
    stale = tmp_path / "stale.pt"
    torch.save(payload, stale)
    variant = load_references("public", stale).variants("gram_matrix")["gram_unnormalized"]
    assert variant.hint == CHECKS["gram_matrix"].known["gram_unnormalized"].hint
    assert variant.label == "not normalized"


def test_mistake_id_survives_json() -> None:
    """Is CheckResult.mistake written to and read back from the results JSON?"""
    check = CheckResult("gram_matrix", "public", 1.5, 3.0, "partial", "m", "h", mistake="gram_unnormalized")
    back = SubmissionResult.from_json(SubmissionResult("s", "StyleTransfer", 1.5, 3.0, [check]).to_json())
    assert back.checks[0].mistake == "gram_unnormalized"
