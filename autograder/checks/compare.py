"""How a returned value is compared with a reference: relative errors, tolerances, and what came back.

Relative errors are CS231n's ``rel_error`` (``max |x - y| / max(1e-8, |x| + |y|)`` over elements) or a
norm-based one (``||x - y||_2 / max(1e-8, ||x||_2 + ||y||_2)``); a :class:`Tolerance` names which one a
graded function uses and the largest error it accepts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch

__all__ = [
    "VARIANT_MATCH",
    "Tolerance",
    "as_tensor_result",
    "describe",
    "norm_rel_error",
    "rel_error",
]

#: Relative error under which an output is recognised as a known mistake's output (when the function's
#: own threshold is smaller). Mistakes differ from the answer and from each other by far more; outputs
#: stored in float16 (large ones, see :data:`autograder.references.COMPACT_NUMEL`) add < 1e-4.
VARIANT_MATCH = 1e-3


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


_ERRORS: dict[str, Callable[[Any, Any], float]] = {"elementwise": rel_error, "norm": norm_rel_error}


@dataclass(frozen=True)
class Tolerance:
    """The largest relative error accepted for a graded function, and how it is measured.

    Attributes:
        threshold: largest accepted relative error (strictly below passes).
        kind: ``"elementwise"`` (CS231n's rel_error) or ``"norm"`` (norm-based: for outputs with many
            near-zero entries, such as input gradients, whose elementwise error is noise).
        why: the measurement that justifies the threshold (noise of correct answers, distance to the
            closest mistake), shown in docs/grading.md.
    """

    threshold: float
    kind: Literal["elementwise", "norm"] = "elementwise"
    why: str = ""

    def error(self, x: torch.Tensor | float, y: torch.Tensor | float) -> float:
        """The relative error of ``x`` against ``y`` measured the way this tolerance says."""
        return _ERRORS[self.kind](x, y)

    @property
    def match(self) -> float:
        """Error under which an output counts as a known mistake's (never below the threshold)."""
        return max(self.threshold, VARIANT_MATCH)

    def __str__(self) -> str:
        return f"{'norm-based ' if self.kind == 'norm' else ''}rel_error < {self.threshold:.0e}"


def describe(value: Any) -> str:
    """``value`` in a few words: ``a torch.float32 tensor of shape (2, 8, 8)``, ``a list``."""
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    return f"a {type(value).__name__}"


def as_tensor_result(value: Any, expected: torch.Tensor, scalar: bool) -> tuple[torch.Tensor | None, str]:
    """``value`` as a tensor comparable with ``expected``, or ``(None, what is wrong with it)``.

    Args:
        value: what the student's function returned (plain data, not ``None``).
        expected: the reference.
        scalar: accept a Python number or any one-element tensor (losses); it becomes a 0-d tensor.

    Returns:
        ``(tensor, "")`` when it can be compared; ``(None, problem)`` for a wrong type, shape, dtype, or
        non-finite values. A tensor of the wrong shape is returned with its problem, so that a caller
        can still recognise a known mistake of another shape.
    """
    if scalar and isinstance(value, int | float) and not isinstance(value, bool):
        value = torch.tensor(float(value))
    if not isinstance(value, torch.Tensor):
        return None, f"expected a tensor, got {describe(value)}"
    if scalar:
        if value.numel() != 1:
            return None, f"expected a scalar (one-element tensor), got {describe(value)}"
        value = value.reshape(())
    elif value.shape != expected.shape:
        return value, f"expected shape {tuple(expected.shape)}, got {tuple(value.shape)}"
    if not value.is_floating_point():
        return None, f"expected a floating-point tensor, got {value.dtype}"
    if not torch.isfinite(value).all():
        return None, "the result holds NaN or inf values"
    return value, ""
