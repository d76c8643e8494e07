"""The Attribution notebook's functions, check inputs and named mistakes, for its tests and bench scripts.

Everything here runs the course's OWN notebook code (trusted), in process, through the project's one way of
doing it (:func:`autograder.reference_build.notebook_namespace`, :mod:`autograder.solution_edits`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import nbformat
import torch

from autograder.functions import FUNCTIONS, functions_of
from autograder.reference_build import notebook_namespace
from autograder.runner import MODEL, MODEL_FLOAT64, hook_count
from autograder.solution_edits import apply_edits, edits_of
from tests.helpers.notebooks import solution_nb

__all__ = [
    "GRADED",
    "NOTEBOOK",
    "attribution_namespace",
    "call_with_fresh_model",
    "check_inputs",
    "hook_count",
    "mistake_versions",
    "solution_notebook",
]

NOTEBOOK = "Attribution"
#: The graded functions, in notebook order.
GRADED = tuple(fn.name for fn in functions_of(NOTEBOOK))


def solution_notebook() -> nbformat.NotebookNode:
    """``solutions/Attribution.ipynb``, read fresh."""
    return solution_nb(NOTEBOOK)


def attribution_namespace(nb: nbformat.NotebookNode | None = None) -> dict[str, Any]:
    """Globals after executing the notebook's imports and solution cells (default: the solution notebook)."""
    return notebook_namespace(solution_notebook() if nb is None else nb, NOTEBOOK)


def mistake_versions(nb: nbformat.NotebookNode) -> dict[str, dict[str, Callable[..., Any]]]:
    """Per graded function, each named mistake's version of it (its stored edit applied), by mistake id."""
    versions: dict[str, dict[str, Callable[..., Any]]] = {}
    for function in GRADED:
        ids = {m.id for m in FUNCTIONS[function].mistakes}
        versions[function] = {
            name: attribution_namespace(apply_edits(nb, [(function, name)]))[function]
            for name in edits_of(nb, function)
            if name in ids
        }
    return versions


def check_inputs(function: str, seed: int) -> tuple:
    """The check's arguments for ``seed`` (its first case), the model placeholder left out: it goes third
    for the two gradient functions, as a pristine float64 copy of the course model."""
    (call,) = FUNCTIONS[function].cases({"seed": seed})[:1]
    return tuple(a for a in call.args if not (isinstance(a, str) and a in (MODEL, MODEL_FLOAT64)))


def call_with_fresh_model(
    function: Callable, args: tuple, model: torch.nn.Module | None
) -> tuple[Any, str, int]:
    """Call ``function`` on copies of ``args``, with a fresh copy of ``model`` inserted third (if given).

    Returns:
        ``(output or None, "" or the error as "Type: message", hooks left on the model copy)``.
    """
    call_args = [a.clone() if isinstance(a, torch.Tensor) else a for a in args]
    fresh = copy.deepcopy(model) if model is not None else None
    if fresh is not None:
        call_args.insert(2, fresh)
    try:
        out = function(*call_args)
        error = ""
    except Exception as exc:
        out, error = None, f"{type(exc).__name__}: {exc}"
    hooks = hook_count(fresh) if fresh is not None else 0
    return (out.detach() if isinstance(out, torch.Tensor) else out), error, hooks
