"""Reference files: what a graded function's outputs should be on its check inputs, and its mistakes'.

A reference file is DATA, built from the solution notebooks by :mod:`autograder.reference_build`:

* **public** references (seed :data:`PUBLIC_SEED`) ship in the package and drive the self-checks;
* **hidden** references use a seed the instructor picks and are written where the instructor says,
  readable by the owner only; they never enter the student release.

Per graded function a file holds the params its cases are built from, a digest of each case's inputs,
the solution's output on each case, each mistake's outputs (for mistakes recognised by output) and the
function's extras. Every file records the torch and timm versions, the model weights' sha256 and the
seed; loading warns on a version mismatch and refuses inputs that changed.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from autograder.checks.base import FunctionReference
from autograder.functions import FUNCTIONS
from autograder.runner import Call
from autograder.settings import PUBLIC_REFERENCES

__all__ = [
    "FORMAT_VERSION",
    "PUBLIC_SEED",
    "References",
    "StaleReferencesError",
    "cached_references",
    "inputs_digest",
    "load_references",
    "versions",
]

FORMAT_VERSION = 2
PUBLIC_SEED = 0


class StaleReferencesError(ValueError):
    """A reference file was built from other check inputs than this code makes: rebuild it."""


def versions() -> dict[str, str]:
    """The torch and timm versions and the model weights' sha256 (recorded in every reference file)."""
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
    """A loaded reference file.

    Attributes:
        seed: the seed the check inputs were drawn from.
        meta: versions and provenance recorded at build time.
        functions: per graded function, its :class:`~autograder.checks.base.FunctionReference` (calls
            rebuilt and verified against the stored digests).
        path: the file they were read from.
    """

    seed: int
    meta: dict[str, Any]
    functions: dict[str, FunctionReference]
    path: Path

    def __getitem__(self, function: str) -> FunctionReference:
        return self.functions[function]

    def inputs_digest(self) -> hashlib._Hash:
        """A digest of every function's check inputs (equal digests: the same inputs; the seed itself
        is never needed, so a hidden seed can stay secret)."""
        digest = hashlib.sha256()
        for function in sorted(self.functions):
            calls = ";".join(inputs_digest(call) for call in self.functions[function].calls)
            digest.update(f"{function}:{calls};".encode())
        return digest


def _float(value: Any) -> Any:
    """Outputs stored in float16 (large mistake outputs) come back as float32 for comparisons."""
    if isinstance(value, torch.Tensor) and value.dtype == torch.float16:
        return value.float()
    return value


def _function_reference(path: Path, name: str, entry: dict[str, Any]) -> FunctionReference:
    fn = FUNCTIONS[name]
    calls = fn.cases(entry["params"])
    digests = [inputs_digest(call) for call in calls]
    if digests != entry["digests"]:
        raise StaleReferencesError(
            f"{path}: the check inputs of {name} differ from those the references were built with (the "
            "check or the bundled data changed): rebuild the references (`make references`, or "
            "`python -m autograder references --hidden ...` for hidden ones)."
        )
    variants = {m: [_float(v) for v in outputs] for m, outputs in entry.get("variants", {}).items()}
    return FunctionReference(
        entry["params"], calls, list(entry["expected"]), variants, entry.get("extras", {})
    )


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
        ValueError: for a file of another format, or without some graded function.
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
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_VERSION:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise ValueError(f"{path} has format {found}, expected {FORMAT_VERSION}: rebuild it.")
    stale = {k: (payload["meta"].get(k), v) for k, v in versions().items() if payload["meta"].get(k) != v}
    if stale:
        details = ", ".join(f"{k} {old} -> {new}" for k, (old, new) in stale.items())
        warnings.warn(
            f"{path.name} was built with other versions ({details}); results may differ slightly. "
            "Rebuild the references with `make references`.",
            stacklevel=2,
        )
    entries = payload["functions"]
    missing = [name for name in FUNCTIONS if name not in entries]
    if missing:
        raise ValueError(f"{path} has no references for {', '.join(missing)}: rebuild it.")
    functions = {name: _function_reference(path, name, entries[name]) for name in FUNCTIONS}
    return References(seed=payload["seed"], meta=payload["meta"], functions=functions, path=path)


@lru_cache(maxsize=4)
def cached_references(which: str, path: Path | None = None) -> References:
    """:func:`load_references`, once per process for each (set, file): self-checks and graders share it."""
    return load_references(which, path)
