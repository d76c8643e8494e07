"""Errors students commonly hit, recognised in the error message of a failed call, with their hints."""

from __future__ import annotations

__all__ = ["ERROR_HINTS", "error_hint"]

_FLOAT64_HINT = (
    "The gradient checks call your function with float64 images and a float64 model: keep the input's "
    "dtype (do not convert it with .float()) and create any new tensor from the input (the *_like "
    "constructors or the tensor's new_* methods), so it shares the input's dtype and device."
)

#: (text of the error message, mistake id, hint), matched in order.
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


def error_hint(message: str) -> tuple[str, str]:
    """``(mistake id, hint)`` of the first :data:`ERROR_HINTS` pattern in ``message``; empty if none."""
    return next(((name, hint) for pattern, name, hint in ERROR_HINTS if pattern in message), ("", ""))
