"""Reference outputs, built by running the solution notebooks' own functions on the check inputs.

There is no second copy of the solutions: :func:`build_references` extracts the solution code from
``solutions/<notebook>.ipynb`` exactly as a student submission is read, runs it on each check's
inputs, and stores the outputs together with the outputs of known mistakes (for hints).

* **public** references (seed :data:`PUBLIC_SEED`) ship in the package and drive the self-checks;
* **hidden** references use a seed the instructor picks and are written where the instructor says,
  readable by the owner only; they never enter the student release.

Every file records the torch and timm versions, the model weights' sha256, the seed, and a digest
of each check's inputs; loading warns on a version mismatch and refuses inputs that changed.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import itertools
import linecache
import os
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import nbformat
import torch

from autograder.checks import CHECKS, FunctionCheck, Variant, checks_for
from autograder.course import NOTEBOOKS
from autograder.grading.extraction import compile_chunk, extract_student_code
from autograder.runner import Call, InProcessRunner
from autograder.settings import PUBLIC_REFERENCES, REPO_ROOT, SOLUTIONS_DIR
from autograder.tolerances import COMPACT_NUMEL

__all__ = [
    "FORMAT_VERSION",
    "PUBLIC_SEED",
    "References",
    "StaleReferencesError",
    "build_references",
    "cached_references",
    "inputs_digest",
    "load_references",
    "notebook_namespace",
    "solution_namespace",
]

FORMAT_VERSION = 1
PUBLIC_SEED = 0


class StaleReferencesError(ValueError):
    """A reference file was built from other check inputs than this code makes: rebuild it."""


def _versions() -> dict[str, str]:
    from course_utils.models import WEIGHTS_SHA256

    timm_version = importlib.metadata.version("timm")
    return {"torch": str(torch.__version__), "timm": timm_version, "weights_sha256": WEIGHTS_SHA256}


def inputs_digest(call: Call) -> str:
    """sha256 over a call's tensor inputs and other arguments, to notice inputs that changed."""
    digest = hashlib.sha256()

    def feed(value: Any) -> None:
        if isinstance(value, torch.Tensor):
            digest.update(str((tuple(value.shape), str(value.dtype))).encode())
            digest.update(value.detach().to(torch.float64).cpu().numpy().round(6).tobytes())
        elif isinstance(value, list | tuple):
            for v in value:
                feed(v)
        else:
            digest.update(repr(value).encode())

    feed(call.args)
    feed(sorted(call.kwargs.items()))
    return digest.hexdigest()


@dataclass
class References:
    """Loaded reference outputs.

    Attributes:
        seed: the seed the check inputs are built from.
        meta: versions and provenance recorded at build time.
        entries: per function: ``expected``, ``variants`` (name -> Variant) and ``digest``.
        calls: per function, the check's call for :attr:`seed` (its digest verified at load).
        path: the file they were read from.
    """

    seed: int
    meta: dict[str, Any]
    entries: dict[str, dict[str, Any]]
    calls: dict[str, Call]
    path: Path

    def expected(self, function: str) -> Any:
        """The reference output of ``function`` on :meth:`call`'s inputs."""
        return self.entries[function]["expected"]

    def variants(self, function: str) -> dict[str, Variant]:
        """Known-mistake outputs stored for ``function``, keyed by mistake id.

        Hint, credit and label come from the check's current :attr:`FunctionCheck.known` when it
        knows the id (so rewording a hint needs no rebuild); otherwise from the file.
        """
        known = CHECKS[function].known
        variants = {}
        for name, v in self.entries[function].get("variants", {}).items():
            output = v["output"].float() if isinstance(v["output"], torch.Tensor) else v["output"]
            if name in known:
                variants[name] = CHECKS[function].variant(name, output)
            else:
                variants[name] = Variant(output, v["hint"], v["fraction"], v.get("label", name))
        return variants


_NAMESPACE_COUNTER = itertools.count(1)


def notebook_namespace(nb: nbformat.NotebookNode, notebook: str) -> dict[str, Any]:
    """Execute a TRUSTED notebook's imports and function definitions in this process; return its globals.

    Only for the course's own solution notebooks (and edits of them in tests): student code is run
    by :class:`autograder.isolation.sandbox.Sandbox`, never here. The code is registered with ``linecache`` so
    that ``inspect.getsource`` works on the functions, as in Jupyter.
    """
    functions = [c.function for c in checks_for(notebook)]
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
    path = solutions_dir / f"{notebook}.ipynb"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: references are built from the solution notebooks of a course checkout "
            "(pass --solutions DIR)."
        )
    return notebook_namespace(nbformat.read(path, as_version=4), notebook)


def build_references(
    seed: int, out: Path, solutions_dir: Path = SOLUTIONS_DIR, private: bool = False
) -> Path:
    """Run every solution function on its check's inputs and save the outputs.

    Args:
        seed: seed of the check inputs (:data:`PUBLIC_SEED` for the public references).
        out: file to write (a ``.pt`` file read with ``torch.load(weights_only=True)``).
        solutions_dir: folder holding the solution notebooks.
        private: hidden references: written readable by its owner only, and never inside the
            course repository.

    Returns:
        ``out``.

    Raises:
        ValueError: for hidden references aimed inside the course repository.
    """
    from course_utils.models import load_model

    if private and Path(out).resolve().is_relative_to(REPO_ROOT):
        raise ValueError(
            f"refusing to write hidden references inside the course repository ({out}): anything there "
            "can end up in a commit, the package or a release. Choose a path outside it, e.g. "
            "~/grading/hidden.pt."
        )
    model = load_model("cpu")
    entries: dict[str, dict[str, Any]] = {}
    for notebook in NOTEBOOKS:
        runner = InProcessRunner(solution_namespace(notebook, solutions_dir), model)
        for check in checks_for(notebook):
            entries[check.function] = _reference_entry(check, seed, runner, model)
    payload = {
        "format": FORMAT_VERSION,
        "seed": seed,
        "meta": {**_versions(), "built": datetime.now(UTC).isoformat(timespec="seconds")},
        "entries": entries,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as f:
        torch.save(payload, f)
    os.replace(tmp, out)
    return out


def _reference_entry(
    check: FunctionCheck, seed: int, runner: InProcessRunner, model: torch.nn.Module
) -> dict:
    call = check.make_call(seed)
    outcome = runner.run(check.function, call)
    if outcome.status != "ok":
        raise RuntimeError(f"the solution's {check.function} failed on the check inputs: {outcome.message}")
    variants = check.variants(call, model)
    return {
        "expected": check.expected(outcome, call),
        "digest": inputs_digest(call),
        "variants": {
            n: {"output": _compact(v.output), "hint": v.hint, "fraction": v.fraction, "label": v.label}
            for n, v in variants.items()
        },
    }


def _compact(value: Any) -> Any:
    if isinstance(value, torch.Tensor) and value.numel() > COMPACT_NUMEL:
        return value.detach().to(torch.float16)
    return value


def load_references(which: str = "public", path: Path | str | None = None) -> References:
    """Load public or hidden references and verify them against this code's check inputs.

    A file whose recorded input digests differ from the inputs the checks make now (the checks or
    the bundled data changed) raises :class:`StaleReferencesError` here, before any grading starts.
    A file built with other torch/timm/weights versions gives a warning.

    Args:
        which: ``"public"`` (shipped with the package) or ``"hidden"``.
        path: file to read; required for hidden references (default for public: the packaged file).

    Raises:
        FileNotFoundError: with instructions, when the file is missing or not given.
        StaleReferencesError: when the file no longer matches the checks.
        ValueError: for a file of another format or with functions missing.
    """
    if which not in ("public", "hidden"):
        raise ValueError(f"references must be 'public' or 'hidden', not {which!r}")
    if path is None:
        if which == "hidden":
            raise FileNotFoundError(
                "Hidden references are not configured: pass the file written by `python -m autograder "
                "references --hidden --seed N --out PATH` (instructors only)."
            )
        path = PUBLIC_REFERENCES
    path = Path(path)
    if not path.is_file():
        hint = (
            "run `make references`"
            if which == "public"
            else "build them with `python -m autograder references --hidden`"
        )
        raise FileNotFoundError(f"{which} references not found at {path}: {hint}.")
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if payload.get("format") != FORMAT_VERSION:
        raise ValueError(f"{path} has format {payload.get('format')}, expected {FORMAT_VERSION}: rebuild it.")
    current = _versions()
    stale = {k: (payload["meta"].get(k), v) for k, v in current.items() if payload["meta"].get(k) != v}
    if stale:
        details = ", ".join(f"{k} {old} -> {new}" for k, (old, new) in stale.items())
        warnings.warn(
            f"{path.name} was built with other versions ({details}); results may differ slightly. "
            "Rebuild the references with `make references`.",
            stacklevel=2,
        )
    missing = sorted(set(CHECKS) - set(payload["entries"]))
    if missing:
        raise ValueError(f"{path} has no references for {', '.join(missing)}: rebuild it.")
    calls = {}
    for function, check in CHECKS.items():
        calls[function] = check.make_call(payload["seed"])
        if payload["entries"][function]["digest"] != inputs_digest(calls[function]):
            raise StaleReferencesError(
                f"{path}: the check inputs of {function} differ from those the references were built with "
                "(the check or the bundled data changed): rebuild the references (`make references`, or "
                "`python -m autograder references --hidden ...` for hidden ones)."
            )
    return References(
        seed=payload["seed"], meta=payload["meta"], entries=payload["entries"], calls=calls, path=path
    )


@lru_cache(maxsize=4)
def cached_references(which: str, path: Path | None = None) -> References:
    """:func:`load_references`, once per process for each (set, file): self-checks and graders share it."""
    return load_references(which, path)
