"""Building reference files from the solution notebooks (``make references``, ``references --hidden``).

There is no second copy of the solutions, and no computation of a graded value in the package: the
solution code is extracted from ``solutions/<notebook>.ipynb`` exactly as a submission is read, and run
on each graded function's cases. Each named mistake recognised by its output is reproduced by running
the solution with that mistake's text edit applied (stored in the solution cell's metadata, see
:mod:`autograder.solution_edits`). Everything is stored as data (:mod:`autograder.references`).
"""

from __future__ import annotations

import itertools
import linecache
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nbformat
import torch
from torch import nn

from autograder.checks.base import GradedFunction
from autograder.course import NOTEBOOKS
from autograder.functions import functions_of
from autograder.notebook_io.extraction import compile_chunk, extract_student_code
from autograder.references import FORMAT_VERSION, inputs_digest, versions
from autograder.runner import Call, CallOutcome, InProcessRunner, call_function, prepare_call
from autograder.settings import REPO_ROOT, SOLUTIONS_DIR
from autograder.solution_edits import apply_edits, edits_of

__all__ = [
    "COMPACT_NUMEL",
    "SolutionRunner",
    "build_references",
    "notebook_namespace",
    "solution_namespace",
]

#: Mistake outputs larger than this many elements are stored in float16, keeping the files small: the
#: images and maps of the gradient checks, matched by the NORM-based error within
#: :data:`autograder.checks.compare.VARIANT_MATCH`, far above float16's precision. Smaller ones stay
#: exact: an elementwise rel_error on float16 fails for entries near zero (subnormal in float16).
COMPACT_NUMEL = 10_000

_NAMESPACE_COUNTER = itertools.count(1)


def notebook_namespace(nb: nbformat.NotebookNode, notebook: str) -> dict[str, Any]:
    """Execute a TRUSTED notebook's imports and function definitions in this process; return its globals.

    Only for the course's own solution notebooks (and edits of them): student code is run by
    :class:`autograder.isolation.sandbox.Sandbox`, never here. The code is registered with ``linecache``
    so that ``inspect.getsource`` works on the functions, as in Jupyter.
    """
    functions = [fn.name for fn in functions_of(notebook)]
    chunks, problems = extract_student_code(nb, functions)
    if problems:
        raise RuntimeError(f"{notebook}: " + "; ".join(problems))
    namespace: dict[str, Any] = {"__name__": f"solution_{notebook}"}
    files: dict[str, list[str]] = {}
    # a file name per call, as Jupyter gives one per cell execution: sources never overwrite each other
    suffix = f" [{next(_NAMESPACE_COUNTER)}]"
    for chunk in chunks:
        lines = files.setdefault(chunk.label + suffix, [])
        for number, line in enumerate(chunk.code.split("\n"), start=chunk.first_line):
            while len(lines) < number:
                lines.append("\n")
            if line:
                lines[number - 1] = line + "\n"
    for label, lines in files.items():
        linecache.cache[label] = (sum(map(len, lines)), None, lines, label)
    for chunk in chunks:
        exec(compile_chunk(chunk.code, chunk.label + suffix, chunk.first_line), namespace)
    return namespace


def solution_namespace(notebook: str, solutions_dir: Path = SOLUTIONS_DIR) -> dict[str, Any]:
    """Execute the solution notebook's import and solution cells; return the resulting globals."""
    return notebook_namespace(_read_solution(notebook, solutions_dir), notebook)


def _read_solution(notebook: str, solutions_dir: Path) -> nbformat.NotebookNode:
    path = solutions_dir / f"{notebook}.ipynb"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: references are built from the solution notebooks of a course checkout "
            "(pass --solutions DIR)."
        )
    return nbformat.read(path, as_version=4)


class _Recorder(nn.Module):
    """Wraps a model; records ``(input, output)`` of every forward pass, detached copies."""

    def __init__(self, model: nn.Module, records: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        super().__init__()
        self.model = model
        self.records = records

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(x)
        self.records.append((x.detach().clone(), out.detach().clone()))
        return out


class SolutionRunner:
    """Runs one solution notebook's functions, as written or with one of their stored edits applied.

    Args:
        nb: the solution notebook.
        notebook: its name.
        model: the course model every model placeholder of a call is copied from.
    """

    def __init__(self, nb: nbformat.NotebookNode, notebook: str, model: nn.Module) -> None:
        self.nb = nb
        self.notebook = notebook
        self.model = model
        self._namespaces: dict[tuple[str, str] | None, dict[str, Any]] = {}

    def namespace(self, function: str, edit: str | None = None) -> dict[str, Any]:
        """The notebook's globals, with edit ``edit`` of ``function``'s cell applied (cached)."""
        key = (function, edit) if edit else None
        if key not in self._namespaces:
            nb = apply_edits(self.nb, [key]) if key else self.nb
            self._namespaces[key] = notebook_namespace(nb, self.notebook)
        return self._namespaces[key]

    def edits(self, function: str) -> dict[str, list[tuple[str, str]]]:
        """The edits stored with ``function``'s solution cell."""
        return edits_of(self.nb, function)

    def run(self, function: str, call: Call, edit: str | None = None, seed: int = 0) -> CallOutcome:
        """Call the (edited) solution function on fresh copies of the call's arguments, torch seeded."""
        return InProcessRunner(self.namespace(function, edit), self.model).run(function, call, seed)

    def run_recorded(
        self, function: str, call: Call, edit: str | None = None
    ) -> tuple[CallOutcome, list[tuple[torch.Tensor, torch.Tensor]]]:
        """:meth:`run`, recording the input and output of every forward pass of the model arguments."""
        func: Callable[..., Any] = self.namespace(function, edit)[function]
        records: list[tuple[torch.Tensor, torch.Tensor]] = []
        args, kwargs = prepare_call(call, lambda: _copy(self.model))
        args = [_Recorder(a, records) if isinstance(a, nn.Module) else a for a in args]
        return call_function(func, args, kwargs), records


def _copy(model: nn.Module) -> nn.Module:
    import copy

    return copy.deepcopy(model)


def _compact(value: Any) -> Any:
    """A large mistake output in float16 (see :data:`COMPACT_NUMEL`)."""
    if isinstance(value, torch.Tensor) and value.numel() > COMPACT_NUMEL:
        return value.detach().to(torch.float16)
    return value


def _single(value: Any) -> Any:
    """A float64 reference output in float32: its rounding (6e-8 relative) is far below every threshold
    (the smallest, make_fooling_image's, is 1e-6), and the file is half the size."""
    if isinstance(value, torch.Tensor) and value.dtype == torch.float64:
        return value.to(torch.float32)
    return value


def _observed(fn: GradedFunction, runner: SolutionRunner, calls: list[Call], edit: str | None) -> list[Any]:
    """What ``fn`` compares, for each case, from the (edited) solution; raises if a case fails."""
    values = []
    for call in calls:
        outcome = runner.run(fn.name, call, edit)
        what = f"the solution's {fn.name}" + (f" with the edit {edit!r}" if edit else "")
        if outcome.status != "ok":
            raise RuntimeError(f"{what} failed on the check inputs: {outcome.message}")
        value = fn.observed(outcome, call)
        if value is None:
            raise RuntimeError(f"{what} gave nothing to compare on the check inputs")
        values.append(value)
    return values


def _entry(fn: GradedFunction, seed: int, runner: SolutionRunner) -> dict[str, Any]:
    """One function's reference data: params, digests, expected outputs, mistakes' outputs, extras."""
    params = fn.choose_params(seed, runner)
    calls = fn.cases(params)
    expected = _observed(fn, runner, calls, None)
    edits = runner.edits(fn.name)
    variants: dict[str, list[Any]] = {}
    for mistake in fn.mistakes:
        if mistake.detect != "output":
            continue
        if mistake.id not in edits:
            raise RuntimeError(
                f"{fn.name}: mistake {mistake.id!r} is recognised by its output, but the solution cell has "
                "no "
                f"edit {mistake.id!r} that reproduces it (metadata.autograder.edits)"
            )
        outputs = _observed(fn, runner, calls, mistake.id)
        if all(_close(fn, out, exp) for out, exp in zip(outputs, expected, strict=True)):
            raise RuntimeError(
                f"{fn.name}: mistake {mistake.id!r} gives the reference answer on every check input, so it "
                "could never be named: change the check inputs or the edit"
            )
        variants[mistake.id] = [_compact(out) for out in outputs]
    return {
        "params": params,
        "digests": [inputs_digest(call) for call in calls],
        "expected": [_single(value) for value in expected],
        "variants": variants,
        "extras": fn.extras(calls, runner),
    }


def _close(fn: GradedFunction, output: Any, expected: Any) -> bool:
    if not isinstance(output, torch.Tensor) or not isinstance(expected, torch.Tensor):
        return False
    if output.numel() != expected.numel():
        return False
    return fn.tolerance.error(output.reshape(expected.shape), expected) < fn.tolerance.match


def build_references(
    seed: int, out: Path, solutions_dir: Path = SOLUTIONS_DIR, private: bool = False
) -> Path:
    """Run every solution function (and every mistake's edit of it) on its cases and save the outputs.

    Args:
        seed: seed of the check inputs (:data:`autograder.references.PUBLIC_SEED` for the public ones).
        out: file to write (a ``.pt`` file read with ``torch.load(weights_only=True)``).
        solutions_dir: folder holding the solution notebooks.
        private: hidden references: written readable by its owner only, and never inside the course
            repository.

    Returns:
        ``out``.

    Raises:
        ValueError: for hidden references aimed inside the course repository.
        RuntimeError: a solution or a mistake's edit fails, or a mistake cannot be told from the answer.
    """
    from course_utils.models import load_model

    out = Path(out)
    if private and out.resolve().is_relative_to(REPO_ROOT):
        raise ValueError(
            f"refusing to write hidden references inside the course repository ({out}): anything there "
            "can end up in a commit, the package or a release. Choose a path outside it, e.g. "
            "~/grading/hidden.pt."
        )
    model = load_model("cpu")
    functions: dict[str, dict[str, Any]] = {}
    for notebook in NOTEBOOKS:
        runner = SolutionRunner(_read_solution(notebook, solutions_dir), notebook, model)
        for fn in functions_of(notebook):
            functions[fn.name] = _entry(fn, seed, runner)
    payload = {
        "format": FORMAT_VERSION,
        "seed": seed,
        "meta": {**versions(), "built": datetime.now(UTC).isoformat(timespec="seconds")},
        "functions": functions,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as f:
        torch.save(payload, f)
    os.replace(tmp, out)
    return out
