"""What every check shares: the check interface, CS231n's rel_error, and value comparison with hints."""

from __future__ import annotations

import ast
import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from autograder.course import FUNCTIONS
from autograder.runner import Call, CallOutcome
from autograder.tolerances import NORM_BASED, VARIANT_MATCH

__all__ = [
    "ERROR_HINTS",
    "FunctionCheck",
    "GradingContext",
    "KnownMistake",
    "Variant",
    "Verdict",
    "compare_values",
    "norm_rel_error",
    "python_loops",
    "rel_error",
]


def rel_error(x: torch.Tensor | float, y: torch.Tensor | float) -> float:
    """CS231n's relative error: ``max |x - y| / max(1e-8, |x| + |y|)`` over all elements, in float64."""
    x = torch.as_tensor(x, dtype=torch.float64)
    y = torch.as_tensor(y, dtype=torch.float64)
    if x.numel() == 0:
        return 0.0
    value = ((x - y).abs() / (x.abs() + y.abs()).clamp_min(1e-8)).max().item()
    return float("inf") if math.isnan(value) else value


def norm_rel_error(x: torch.Tensor | float, y: torch.Tensor | float) -> float:
    """Norm-based relative error: ``||x - y||_2 / max(1e-8, ||x||_2 + ||y||_2)``, in float64."""
    x = torch.as_tensor(x, dtype=torch.float64)
    y = torch.as_tensor(y, dtype=torch.float64)
    value = ((x - y).norm() / (x.norm() + y.norm()).clamp_min(1e-8)).item()
    return float("inf") if math.isnan(value) else value


@dataclass
class Verdict:
    """A check's judgement of one outcome, before points are attached.

    Attributes:
        status: ``"passed"``, ``"partial"``, ``"failed"``, ``"not_implemented"`` or a run status
            (``"error"``, ``"timeout"``, ``"memory"``, ``"crashed"``, ``"missing"``).
        fraction: share of the check's points earned, in [0, 1].
        message: what was found.
        hint: how to fix it.
        rel_error: measured relative error, if values were compared.
        threshold: accepted relative error, if values were compared.
        mistake: id of the known mistake recognised (a key of ``FunctionCheck.known`` or of
            :data:`ERROR_HINTS`), ``""`` when none was.
    """

    status: str
    fraction: float
    message: str
    hint: str = ""
    rel_error: float | None = None
    threshold: float | None = None
    mistake: str = ""


@dataclass(frozen=True)
class KnownMistake:
    """A mistake a check can name: what it looks like, the hint that teaches the fix, its credit.

    Attributes:
        label: what the student's result looks like, e.g. ``"gradient of the loss"`` (in the message).
        hint: names the mistake and the idea that fixes it, never the solution code
            (tests/autograder/test_hints.py holds every hint to that).
        fraction: share of the check's points it still earns, in [0, 1].
    """

    label: str
    hint: str
    fraction: float = 0.0


@dataclass(frozen=True)
class Variant:
    """A known mistake's output on the check's inputs, with its hint, credit and label."""

    output: Any
    hint: str
    fraction: float = 0.0
    label: str = ""


@dataclass
class GradingContext:
    """What the grader knows besides the outcome: its own pristine model and the student's source.

    Attributes:
        model: the course model in the grader's process (never the student's copy).
        source: source code of the student's function, when known (for loop detection).
        variants: known-mistake outputs for this check, from the reference file.
    """

    model: torch.nn.Module | None = None
    source: str | None = None
    variants: dict[str, Variant] = field(default_factory=dict)


_FLOAT64_HINT = (
    "The gradient checks call your function with float64 images and a float64 model: keep the input's "
    "dtype (do not convert it with .float()) and create any new tensor from the input (the *_like "
    "constructors or the tensor's new_* methods), so it shares the input's dtype and device."
)

#: Errors students commonly hit: (text of the error message, mistake id, hint), matched in order.
ERROR_HINTS: tuple[tuple[str, str, str], ...] = (
    (
        "a leaf Variable that requires grad is being used in an in-place operation",
        "in_place_update_outside_no_grad",
        "You updated a tensor that requires grad in place while autograd was recording. The update "
        "itself must not be recorded: make it inside a `torch.no_grad()` block.",
    ),
    (
        "does not require grad and does not have a grad_fn",
        "backward_not_connected_to_input",
        "The value you called .backward() on is not connected to the input: does the input require "
        "grad (requires_grad_) before the forward pass, and is gradient tracking on there (no "
        "`torch.no_grad()` around the forward pass, no .detach() or .item() on the way)?",
    ),
    (
        "grad can be implicitly created only for scalar outputs",
        "backward_on_non_scalar",
        "backward() needs a scalar: reduce the per-image values you selected to one number first. "
        "Each image's gradient is unchanged by adding the other images' values (they do not depend "
        "on it).",
    ),
    (
        "'NoneType' object has no attribute",
        "gradient_is_none",
        "A value was None, often a gradient: `.grad` is filled only on the LEAF tensor you called "
        "requires_grad_ on, after `.backward()`. Reset it in place with `.grad.zero_()` instead of "
        "assigning a new tensor or None.",
    ),
    (
        "unsupported operand type(s)",
        "operand_is_none",
        "An operand is None: is every variable assigned before it is used?",
    ),
    ("and bias type (double) should be the same", "float64_input_converted", _FLOAT64_HINT),
    ("expected scalar type Double but found Float", "float64_input_converted", _FLOAT64_HINT),
    ("found dtype Float but expected Double", "float64_input_converted", _FLOAT64_HINT),
    (
        "Trying to backward through the graph a second time",
        "target_keeps_graph",
        "A target still carries the graph of an earlier step: compute targets (content features, style "
        "Gram matrices) once and .detach() them, or compute them under torch.no_grad().",
    ),
)


def _error_hint(message: str) -> tuple[str, str]:
    """(mistake id, hint) of the first :data:`ERROR_HINTS` pattern in ``message``; empty strings if none."""
    return next(((name, hint) for pattern, name, hint in ERROR_HINTS if pattern in message), ("", ""))


def python_loops(source: str | None) -> list[int]:
    """Line numbers of ``for`` / ``while`` loops and comprehensions in a function's source."""
    if not source:
        return []
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    kinds = (ast.For, ast.While, ast.AsyncFor, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
    return sorted({node.lineno for node in ast.walk(tree) if isinstance(node, kinds)})


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    return f"a {type(value).__name__}"


def compare_values(
    value: Any,
    expected: torch.Tensor,
    threshold: float,
    variants: dict[str, Variant],
    generic_hint: str,
    scalar: bool = False,
    norm_based: bool = False,
) -> Verdict:
    """Compare a returned value with the expected tensor: type and shape first, then rel_error.

    Args:
        value: what the student's function returned (plain data).
        expected: the reference output.
        threshold: largest accepted relative error.
        variants: known mistakes; an output matching one gets its hint and credit.
        generic_hint: hint when no known mistake matches.
        scalar: accept a Python number or any one-element tensor (losses).
        norm_based: use :func:`norm_rel_error` instead of the elementwise :func:`rel_error`.

    Returns:
        The verdict.
    """
    error = norm_rel_error if norm_based else rel_error
    if value is None:
        return Verdict(
            "not_implemented",
            0.0,
            "NOT IMPLEMENTED YET: the function returned None. Write your code between the START/END "
            "markers and return the result.",
        )
    if scalar and isinstance(value, int | float) and not isinstance(value, bool):
        value = torch.tensor(float(value))
    if not isinstance(value, torch.Tensor):
        return Verdict("failed", 0.0, f"expected a tensor, got {_describe(value)}", generic_hint)
    if scalar:
        if value.numel() != 1:
            return Verdict(
                "failed", 0.0, f"expected a scalar (one-element tensor), got {_describe(value)}", generic_hint
            )
        value = value.reshape(())
    elif value.shape != expected.shape:
        if match := _known_mistake(value, variants, threshold, error):
            name, variant = match
            return Verdict(
                "failed",
                0.0,
                f"expected shape {tuple(expected.shape)}, got {tuple(value.shape)}; "
                f"looks like: {variant.label or name}",
                variant.hint,
                mistake=name,
            )
        return Verdict(
            "failed", 0.0, f"expected shape {tuple(expected.shape)}, got {tuple(value.shape)}", generic_hint
        )
    if not value.is_floating_point():
        return Verdict("failed", 0.0, f"expected a floating-point tensor, got {value.dtype}", generic_hint)
    if not torch.isfinite(value).all():
        return Verdict("failed", 0.0, "the result holds NaN or inf values", generic_hint)
    err = error(value, expected)
    if err < threshold:
        return Verdict(
            "passed", 1.0, f"rel_error {err:.1e} < {threshold:.0e}", rel_error=err, threshold=threshold
        )
    if match := _known_mistake(value, variants, threshold, error):
        name, variant = match
        return Verdict(
            "partial" if variant.fraction > 0 else "failed",
            variant.fraction,
            f"rel_error {err:.1e} >= {threshold:.0e}; looks like: {variant.label or name}",
            variant.hint,
            rel_error=err,
            threshold=threshold,
            mistake=name,
        )
    return Verdict("failed", 0.0, f"rel_error {err:.1e} >= {threshold:.0e}", generic_hint, err, threshold)


def _known_mistake(
    value: torch.Tensor,
    variants: dict[str, Variant],
    threshold: float,
    error: Callable[[torch.Tensor, torch.Tensor], float],
) -> tuple[str, Variant] | None:
    """The first known mistake whose stored output ``value`` reproduces, if any."""
    for name, variant in variants.items():
        out = variant.output
        same_shape = isinstance(out, torch.Tensor) and out.shape == value.shape
        if same_shape and error(value, out) < max(threshold, VARIANT_MATCH):
            return name, variant
    return None


class FunctionCheck(ABC):
    """The check of one student function: inputs from a seed, what to keep as reference, grading.

    Subclasses set the class attributes and implement the abstract methods. Inputs must be a
    deterministic function of the seed (references are rebuilt from the same seed at grading time).
    The notebook and the points come from the course registry (:mod:`autograder.course`).
    """

    function: str
    #: fallback hint, when no known mistake matched: what was measured and what to look at
    hint: str
    #: whether :meth:`judge` needs the grader's own model (``GradingContext.model``)
    needs_model: bool = False
    #: every mistake this check can name, by id (the ``mistake`` of its verdicts)
    known: ClassVar[dict[str, KnownMistake]] = {}

    @property
    def notebook(self) -> str:
        """The notebook the function belongs to."""
        return FUNCTIONS[self.function].notebook

    @property
    def points(self) -> float:
        """Points of the function's test cell."""
        return FUNCTIONS[self.function].points

    @property
    def norm_based(self) -> bool:
        """Compare with the norm-based relative error (see :data:`autograder.tolerances.NORM_BASED`)."""
        return self.function in NORM_BASED

    def variant(self, mistake: str, output: Any) -> Variant:
        """The :class:`Variant` of known mistake ``mistake`` (a key of :attr:`known`) with ``output``."""
        known = self.known[mistake]
        return Variant(output, known.hint, known.fraction, known.label)

    def named(
        self,
        mistake: str,
        message: str,
        rel_error: float | None = None,
        threshold: float | None = None,
    ) -> Verdict:
        """The verdict for known mistake ``mistake``: its hint and credit, ``partial`` if it earns any."""
        known = self.known[mistake]
        status = "partial" if known.fraction > 0 else "failed"
        return Verdict(status, known.fraction, message, known.hint, rel_error, threshold, mistake)

    def error_mistake(self, message: str) -> str:
        """Id of a known mistake recognised in an error message (``""``: none; checks may override)."""
        return ""

    @abstractmethod
    def make_call(self, seed: int) -> Call:
        """Build the call's inputs deterministically from ``seed``."""

    def expected(self, outcome: CallOutcome, call: Call) -> Any:
        """From the solution's outcome, what to store as the reference (default: the return value)."""
        return outcome.value

    def variants(self, call: Call, model: torch.nn.Module) -> dict[str, Variant]:
        """Outputs of known mistakes on this call's inputs (stored with the references)."""
        return {}

    @abstractmethod
    def judge(self, outcome: CallOutcome, expected: Any, call: Call, ctx: GradingContext) -> Verdict:
        """Grade a successful (status ``"ok"``) outcome."""

    def grade(self, outcome: CallOutcome, expected: Any, call: Call, ctx: GradingContext) -> Verdict:
        """Grade any outcome: run failures first, then :meth:`judge`."""
        if outcome.status == "missing":
            return Verdict(
                "missing",
                0.0,
                f"{self.function} is not defined in the notebook",
                "Keep the function's name and signature exactly as given.",
            )
        if outcome.status != "ok":
            label = {
                "timeout": "ran out of time",
                "memory": "ran out of memory",
                "crashed": "crashed the process",
                "bad_output": "returned something that is not plain data",
                "error": "raised an exception",
            }.get(outcome.status, outcome.status)
            status = outcome.status if outcome.status != "bad_output" else "failed"
            text = f"{self.function} {label}: {outcome.message}".strip()
            if status == "error" and (mistake := self.error_mistake(outcome.message)):
                return Verdict(status, 0.0, text, self.known[mistake].hint, mistake=mistake)
            mistake, hint = _error_hint(outcome.message)
            return Verdict(status, 0.0, text, hint or self.hint, mistake=mistake)
        return self.judge(outcome, expected, call, ctx)
