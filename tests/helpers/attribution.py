"""The Attribution solution notebook's functions and its named mistakes, for tests and bench scripts.

Until the notebook is registered with the autograder (phase 2 of issue 25), ``tests.helpers.notebooks`` cannot
extract it (its ``notebook_namespace`` asks the registry which functions to expect); this does the same for
``solutions/Attribution.ipynb`` with its function names given here. Mistakes are the literal text edits stored
in each solution cell's ``metadata.autograder.mistakes`` (``[[old, new], ...]``: every occurrence of ``old``
is replaced by ``new``, in order). Everything here runs the course's OWN notebook code (trusted), in process.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import nbformat
import numpy as np
import torch

from autograder.grading.extraction import compile_chunk, extract_student_code
from autograder.settings import SOLUTIONS_DIR

__all__ = [
    "CAM_LAYERS",
    "FUNCTIONS",
    "GRADED",
    "NOTEBOOK",
    "apply_edits",
    "attribution_namespace",
    "call_with_fresh_model",
    "check_inputs",
    "hook_count",
    "mistake_edits",
    "solution_notebook",
]

NOTEBOOK = "Attribution"
#: The graded functions.
GRADED = ("integrated_gradients", "grad_cam", "rank_correlation")
#: The functions the notebook defines: the graded ones and the pasted vanilla gradient.
FUNCTIONS = ("compute_saliency_maps", *GRADED)


def solution_notebook() -> nbformat.NotebookNode:
    """``solutions/Attribution.ipynb``, read fresh."""
    return nbformat.read(SOLUTIONS_DIR / f"{NOTEBOOK}.ipynb", as_version=4)


def attribution_namespace(nb: nbformat.NotebookNode | None = None) -> dict[str, Any]:
    """Globals after executing the notebook's imports and solution cells (default: the solution notebook).

    Raises:
        RuntimeError: when a function is missing or a cell does not parse.
    """
    chunks, problems = extract_student_code(solution_notebook() if nb is None else nb, FUNCTIONS)
    if problems:
        raise RuntimeError(f"{NOTEBOOK}: " + "; ".join(problems))
    namespace: dict[str, Any] = {"__name__": f"solution_{NOTEBOOK}"}
    for chunk in chunks:
        exec(compile_chunk(chunk.code, chunk.label, chunk.first_line), namespace)
    return namespace


def mistake_edits(nb: nbformat.NotebookNode) -> dict[str, tuple[str, list[list[str]]]]:
    """Every named mistake of the notebook: id -> (the function whose cell it edits, its edits)."""
    found: dict[str, tuple[str, list[list[str]]]] = {}
    for cell in nb.cells:
        function = cell.metadata.get("nbgrader", {}).get("grade_id")
        for name, edits in cell.metadata.get("autograder", {}).get("mistakes", {}).items():
            if name in found:
                raise ValueError(f"mistake id {name} is used twice")
            found[name] = (function, edits)
    return found


def apply_edits(nb: nbformat.NotebookNode, function: str, edits: list[list[str]]) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose ``function`` solution cell has each ``[old, new]`` edit applied, in order.

    Raises:
        ValueError: when an ``old`` text is not in the cell (the solution changed: update the metadata).
    """
    nb = copy.deepcopy(nb)
    cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == function]
    if len(cells) != 1:
        raise ValueError(f"expected one cell with grade_id {function}, found {len(cells)}")
    source = cells[0].source
    for old, new in edits:
        if old not in source:
            raise ValueError(
                f"{old!r} is not in the {function} cell: update its metadata.autograder.mistakes"
            )
        source = source.replace(old, new)
    cells[0].source = source
    return nb


def hook_count(model: torch.nn.Module) -> int:
    """Forward, forward-pre, backward and backward-pre hooks registered on any module of ``model``."""
    return sum(
        len(m._forward_hooks)
        + len(m._forward_pre_hooks)
        + len(m._backward_hooks)
        + len(m._backward_pre_hooks)
        for m in model.modules()
    )


# The check inputs proposed for phase 2 (docs/attribution-checks.md states them in words and numbers).
IG_SIZE, IG_IMAGES, IG_STEPS = 64, 2, 4
CAM_SIZE, CAM_IMAGES, CAM_LAYER = 96, 2, "blocks.4"
#: Layers a hidden check may ask for (a function that ignores ``layer`` is caught by any of them).
CAM_LAYERS = ("blocks.3", "blocks.4", "blocks.5")
RANK_SHAPE = (3, 16, 16)


def _photos(seed: int, count: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` distinct bundled photos chosen by the seed, float64, with their true labels."""
    from course_utils.data import load_imagenet_samples
    from course_utils.image import preprocess

    X, y, _ = load_imagenet_samples()
    indices = np.sort(np.random.default_rng(seed).choice(len(y), size=count, replace=False))
    return preprocess(X[indices], size=size).double(), torch.as_tensor(y[indices])


def check_inputs(function: str, seed: int) -> tuple:
    """The proposed check's arguments for ``seed``, the model left out (it goes third for the two gradient
    functions, as a pristine float64 copy of the course model).

    * ``integrated_gradients``: ``(X, y, baseline, steps)``: two distinct bundled photos chosen by the seed,
      64 px, float64, their labels; a baseline of one random colour per image in [-0.8, 0.8] (not black, not
      zero, so that a path from 0 or a hard-coded baseline shows); 4 steps.
    * ``grad_cam``: ``(X, y, layer)``: two other photos at 96 px, float64, their labels; ``"blocks.4"`` for
      seed 0, one of :data:`CAM_LAYERS` otherwise (never ``"bn2"``, the layer a hard-coded function uses).
    * ``rank_correlation``: ``(a, b)``: three pairs of 16 x 16 float64 maps with many ties (rectified, rounded
      to quarters: about half zeros), pair 1 anti-correlated.
    """
    if function == "integrated_gradients":
        X, y = _photos(seed, IG_IMAGES, IG_SIZE)
        generator = torch.Generator().manual_seed(seed + 10)
        colours = torch.rand(IG_IMAGES, 3, 1, 1, generator=generator, dtype=torch.float64) * 1.6 - 0.8
        return X, y, colours.expand_as(X).clone(), IG_STEPS
    if function == "grad_cam":
        X, y = _photos(seed + 20, CAM_IMAGES, CAM_SIZE)
        return X, y, CAM_LAYER if seed == 0 else CAM_LAYERS[seed % len(CAM_LAYERS)]
    if function == "rank_correlation":
        generator = torch.Generator().manual_seed(seed + 30)
        a = torch.randn(RANK_SHAPE, generator=generator, dtype=torch.float64)
        b = 0.6 * a + 0.8 * torch.randn(RANK_SHAPE, generator=generator, dtype=torch.float64)
        b[1] = -b[1]
        return torch.relu(a).mul(4).round() / 4, torch.relu(b).mul(4).round() / 4
    raise KeyError(f"no check inputs for {function!r}; graded: {', '.join(GRADED)}")


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
