"""Hints teach without giving the answer: no hint, message or error hint holds solution code."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import autograder.checks as checks_package
import autograder.functions as functions_package
from autograder.checks.errors import ERROR_HINTS
from autograder.functions import FUNCTIONS
from tests.helpers.leakage import load_solution_code, normalize_code, solution_code_in

#: Where the texts students see are written: the check framework and the graded functions' modules.
TEXT_DIRS = (Path(checks_package.__file__).parent, Path(functions_package.__file__).parent)


@pytest.fixture(scope="module")
def solution_code():
    return load_solution_code()


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string nodes that are docstrings (never shown to students)."""
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _literal_texts(path: Path) -> dict[str, str]:
    """Every string literal of a module but its docstrings, f-strings with ``{}`` for each field."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _docstrings(tree)
    parts_of_fstrings = set()
    texts = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            pieces = []
            for value in node.values:
                parts_of_fstrings.add(id(value))
                pieces.append(value.value if isinstance(value, ast.Constant) else "{}")
            texts[f"{path.name}:{node.lineno} (f-string)"] = "".join(pieces)
    for node in ast.walk(tree):
        literal = isinstance(node, ast.Constant) and isinstance(node.value, str)
        if literal and id(node) not in skip and id(node) not in parts_of_fstrings:
            texts[f"{path.name}:{node.lineno}"] = node.value
    return texts


def all_hint_texts() -> dict[str, str]:
    """Every text a check can show a student, by where it comes from.

    Each graded function's fallback hint and mistakes (label and hint), :data:`ERROR_HINTS`, and every
    string literal of the check framework and the function modules (messages, message templates),
    so that a text added without a Mistake is covered too. Reference files hold no text.
    """
    texts: dict[str, str] = {}
    for name, fn in FUNCTIONS.items():
        texts[f"{name}: fallback hint"] = fn.fallback_hint()
        for mistake in fn.mistakes:
            texts[f"{name}: {mistake.id} hint"] = mistake.hint
            texts[f"{name}: {mistake.id} label"] = mistake.label
    for pattern, mistake, hint in ERROR_HINTS:
        texts[f"ERROR_HINTS[{pattern!r}] ({mistake})"] = hint
    for folder in TEXT_DIRS:
        for path in sorted(folder.glob("*.py")):
            texts.update(_literal_texts(path))
    return texts


def test_every_function_and_mistake_has_its_hint_collected() -> None:
    """Does the collection hold every function's fallback hint and every mistake's hint?"""
    texts = all_hint_texts()
    for name, fn in FUNCTIONS.items():
        assert fn.hint and f"{name}: fallback hint" in texts
        assert fn.mistakes, f"{name} names no mistake"
        for mistake in fn.mistakes:
            assert mistake.hint, f"{name}: {mistake.id} has an empty hint"
            assert texts[f"{name}: {mistake.id} hint"] == mistake.hint


def test_hints_quote_thresholds_from_the_tolerance() -> None:
    """Does every fallback hint that names a threshold take it from the function's tolerance?"""
    import re

    for name, fn in FUNCTIONS.items():
        assert not re.search(r"\d+e-\d+", fn.hint), f"{name}: write {{threshold}}, not the number"
        if "{threshold}" in fn.hint:
            assert f"{fn.tolerance.threshold:.0e}" in fn.fallback_hint()


def test_no_hint_contains_solution_code(solution_code) -> None:
    """Does any hint, label, message or error hint contain a solution line or a piece of solution code?"""
    leaks = {where: solution_code_in(text, solution_code) for where, text in all_hint_texts().items()}
    leaks = {where: found for where, found in leaks.items() if found}
    report = "\n".join(f"{where}: {found}" for where, found in leaks.items())
    assert not leaks, "hints that hand out solution code:\n" + report


@pytest.mark.parametrize(
    "planted",
    [
        # the hints of issue 10, as they were
        "content_loss = content_weight * ((content_current - content_original) ** 2).sum()",
        "Vectorize with slicing: tv_weight * (((img[..., 1:, :] - img[..., :-1, :]) ** 2).sum() + ...)",
        "Normalize the gradient: img += learning_rate * g / g.norm().",
        # a whole solution line, pasted with other spacing
        "Hint: saliency = X.grad.abs().max(dim = 1).values",
        # sub-expressions of solution lines, shorter than the line
        "divide by g / g.norm()",
        "compare (content_current - content_original) ** 2",
        "then take X.grad.abs().max(dim=1).values",
        "X_fooling.grad.zero_()",
        "loss = loss + weight * (gram_matrix(feats[layer]) - target) ** 2",
    ],
)
def test_detector_catches_planted_solution_code(solution_code, planted: str) -> None:
    """Does the detector flag a hint copied (whole or in part) from the solution notebooks?"""
    assert solution_code_in(planted, solution_code)


@pytest.mark.parametrize(
    "harmless",
    [
        "Do the update inside `torch.no_grad()` and reset `.grad.zero_()` afterwards.",
        "Select each image's correct-class score with `gather` along the class dimension.",
        "normalize by C*H*W; the gradient of the score, not of the loss",
        "Each step is dX = learning_rate * g / ||g||_2 (the formula in the TODO).",
        # the notebook's own CS231n hint, shown to every student above the saliency cell
        "`scores.gather(1, y.view(-1, 1)).squeeze()` picks one score per row.",
        "content_weight and learning_rate are plain numbers; correct_scores is a name.",
    ],
)
def test_detector_leaves_concepts_and_shown_formulas_alone(solution_code, harmless: str) -> None:
    """Are API names, plain words and formulas the notebook already shows left alone?"""
    assert solution_code_in(harmless, solution_code) == []


def test_normalize_code_spells_squares_one_way() -> None:
    """Do ``x ** 2`` and ``x.pow(2)`` normalize to the same text, without whitespace?"""
    assert normalize_code("(a - b) ** 2") == normalize_code("(a-b).pow(2)") == "(a-b).pow(2)"


def test_solution_lines_are_read_from_the_solution_regions(solution_code) -> None:
    """Are the solution regions' lines there, and lines shown to students (the signature) not?"""
    assert normalize_code("correct_scores.sum().backward()") in solution_code.lines
    assert normalize_code("def compute_saliency_maps(X, y, model):") not in solution_code.lines
