"""The packages students install hold no answer: no solution code, nothing that computes a graded value.

Three attacks a student could make with what they install (the ``autograder`` and ``course_utils``
packages, with the public references):

* read the code: no function body of either package is a solution function or one of its mistakes'
  variants (same normalized AST: names, formatting and docstrings do not count), and no solution line
  appears in their source;
* call the code: every function and method of the packages, called with each case's arguments (or
  with any single tensor argument of the case), never returns the graded value;
* look answers up: a function that returns the public references' outputs (scaled back from a stored
  mistake where that gives the answer, as ``content_weight_missing`` times the weight once did) passes
  the self-check's public cases, and gets nothing on hidden references.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import importlib
import inspect
import pkgutil
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

import autograder
import course_utils
from autograder.functions import FUNCTIONS
from autograder.grading.function import grade_function
from autograder.grading.similarity import fingerprint
from autograder.references import References, inputs_digest
from autograder.runner import CallOutcome, InProcessRunner, captured, course_model, prepare_call
from tests.helpers.leakage import MIN_LINE, load_solution_code, normalize_code, solution_fingerprints

#: Modules whose functions start processes, write files or run long: read (their code is scanned
#: above) but not called.
NOT_CALLED = (
    "autograder.cli",
    "autograder.demo",
    "autograder.__main__",
    "autograder.release",
    "autograder.isolation",
    "autograder.gradescope",
    "autograder.grading.batch",
    "autograder.class_report",
    "autograder.reference_build",
    "course_utils.data",
)


def _package_files() -> list[Path]:
    return sorted(
        path for package in (autograder, course_utils) for path in Path(package.__file__).parent.rglob("*.py")
    )


def _package_functions() -> Iterator[tuple[str, str, str]]:
    """(file, function name, source) of every function and method defined in the two packages."""
    for path in _package_files():
        source = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield str(path), node.name, ast.get_source_segment(source, node) or ""


def test_no_package_function_is_a_solution_or_a_variant_of_one() -> None:
    """Is no function body in autograder/ or course_utils/ a solution function or one of its edits?"""
    solutions = solution_fingerprints()
    assert len(solutions) > 40  # every function and every edit was read
    same = [
        f"{path}:{name} is {solutions[found['digest']]}"
        for path, name, source in _package_functions()
        if (found := fingerprint(source, name)) is not None and found["digest"] in solutions
    ]
    assert not same


def test_no_solution_line_is_in_the_packages() -> None:
    """Does no line of a solution region (normalized, at least MIN_LINE characters) occur in the packages?"""
    code = load_solution_code()
    lines = {line for line in code.code_lines if len(line) >= MIN_LINE}
    found = []
    for path in _package_files():
        package_lines = {normalize_code(line) for line in path.read_text(encoding="utf-8").splitlines()}
        found += [f"{path}: {line}" for line in sorted(lines & package_lines)]
    assert not found


class _TimeoutError(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: int) -> Iterator[None]:
    def stop(signum: int, frame: Any) -> None:
        raise _TimeoutError

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _callables() -> Iterator[tuple[str, Callable[..., Any]]]:
    """Every function, and every method of an instance made without arguments, the packages define."""
    names = [autograder.__name__, course_utils.__name__]
    for package in (autograder, course_utils):
        names += [m.name for m in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")]
    for name in names:
        if name.startswith(NOT_CALLED):
            continue
        module = importlib.import_module(name)
        for attribute, obj in vars(module).items():
            if getattr(obj, "__module__", None) != name:
                continue
            if inspect.isfunction(obj):
                yield f"{name}.{attribute}", obj
            elif inspect.isclass(obj):
                with contextlib.suppress(Exception):
                    instance = obj()
                    for method, bound in inspect.getmembers(instance, inspect.ismethod):
                        if not method.startswith("__"):
                            yield f"{name}.{attribute}.{method}", bound


def _argument_lists(args: list[Any]) -> Iterator[list[Any]]:
    yield args
    for arg in args:
        if isinstance(arg, torch.Tensor):
            yield [arg]


def _answers(function: str, refs: References) -> list[str]:
    """Which callables of the packages return ``function``'s reference value on one of its cases."""
    fn = FUNCTIONS[function]
    ref = refs[function]
    hits = []
    callables = list(_callables())
    for call, expected in zip(ref.calls, ref.expected, strict=True):
        for label, candidate in callables:
            args, kwargs = prepare_call(call, lambda: copy.deepcopy(course_model()))
            for arguments in _argument_lists(args):
                try:
                    inspect.signature(candidate).bind(*arguments, **kwargs)
                except (TypeError, ValueError):
                    continue
                try:
                    with _time_limit(5), torch.random.fork_rng():
                        value = candidate(*arguments, **kwargs)
                    outcome = CallOutcome("ok", value=value, args=captured(args, call.capture_args))
                    observed = fn.observed(outcome, call)
                    tensor = torch.as_tensor(observed, dtype=torch.float64)
                    if tensor.numel() == torch.as_tensor(expected).numel():
                        tensor = tensor.reshape(torch.as_tensor(expected).shape)
                        if fn.tolerance.error(tensor, expected) < fn.tolerance.threshold:
                            hits.append(label)
                except BaseException as exc:  # anything the call raises is no answer
                    if isinstance(exc, KeyboardInterrupt):
                        raise
    return hits


@pytest.mark.slow
@pytest.mark.parametrize("function", list(FUNCTIONS))
def test_no_callable_of_the_packages_computes_the_answer(references, function: str) -> None:
    """Called with the case's arguments, does every function and method of both packages fail to give
    the graded value?"""
    assert _answers(function, references["public"]) == []


def _lookup_attack(function: str, public: References) -> Callable[..., Any]:
    """A 'solution' made only of the public references: the stored answer for a stored input, or,
    where a stored mistake is the answer up to a known factor, that factor put back."""
    stored = {
        inputs_digest(call): value
        for call, value in zip(public[function].calls, public[function].expected, strict=True)
    }
    variants = public[function].variants

    def attack(*args: Any, **kwargs: Any) -> Any:
        from autograder.runner import Call

        key = inputs_digest(Call(args=tuple(_placeholders(args)), kwargs=kwargs))
        if key in stored:
            return stored[key]
        if "content_weight_missing" in variants:  # content_loss = weight * (loss without the weight)
            return args[0] * variants["content_weight_missing"][0]
        return next(iter(stored.values()))

    return attack


def _placeholders(args: tuple[Any, ...]) -> list[Any]:
    from autograder.runner import MODEL, MODEL_FLOAT64, PROBE_MODEL

    out = []
    for arg in args:
        if isinstance(arg, torch.nn.Module):
            dtype = next(arg.parameters()).dtype
            is_probe = sum(p.numel() for p in arg.parameters()) < 100_000
            out.append(PROBE_MODEL if is_probe else MODEL_FLOAT64 if dtype == torch.float64 else MODEL)
        elif isinstance(arg, torch.Tensor):
            out.append(arg.detach())
        else:
            out.append(arg)
    return out


@pytest.mark.slow
@pytest.mark.parametrize(
    "function", [f for f, fn in FUNCTIONS.items() if not fn.name.startswith("class_vis")]
)
def test_looking_answers_up_in_the_public_references_earns_nothing_hidden(references, function: str) -> None:
    """Does a function built from the public references pass in public and score 0 on hidden cases?"""
    attack = _lookup_attack(function, references["public"])
    for which, full in (("public", True), ("hidden", False)):
        outcomes = [
            InProcessRunner({function: attack}).run(function, call)
            for call in references[which][function].calls
        ]
        result = grade_function(function, outcomes, references[which], reference_set=which, sources=None)
        assert (result.points == result.max_points) is full, (which, result.message)
        if not full:
            assert result.points == 0, result.message
