"""How a check calls a student function: the call description, its outcome, and the in-process runner.

A check never calls a function directly. It describes the call (:class:`Call`) and hands it to a
*runner*: :class:`InProcessRunner` for self-checks, nbgrader and reference building (the student's
own kernel), or :class:`autograder.isolation.sandbox.Sandbox` for batch grading (an isolated process). Both
return a :class:`CallOutcome` holding only plain data, so checks grade the same way everywhere.
"""

from __future__ import annotations

import copy
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import torch

from autograder.settings import PLAIN_MAX_DEPTH, PLAIN_MAX_NODES

__all__ = [
    "MODEL",
    "MODEL_FLOAT64",
    "PROBE_MODEL",
    "Call",
    "CallOutcome",
    "InProcessRunner",
    "PlainDataError",
    "call_function",
    "course_model",
    "hook_count",
    "plain_data",
    "reset_torch_state",
    "student_traceback",
]

#: Placeholder for "the course model" in a call's arguments; each call gets a pristine copy.
MODEL = "<course model>"
#: Placeholder for a pristine float64 copy of the course model. Checks that compare gradients
#: through the whole network use it: in float32 a ReLU6 unit sitting within ~1e-6 of a kink flips
#: with the summation order and moves the input gradient by up to ~4e-3 (one input in three); in
#: float64 results agree to ~1e-15 on any machine (see autograder/functions/compute_saliency_maps.py).
MODEL_FLOAT64 = "<course model, float64>"
#: Placeholder for the small fixed float64 classifier of :mod:`autograder.probe` (checks that take many
#: gradient steps, where the course model would be far too slow).
PROBE_MODEL = "<probe classifier>"

_PLAIN_SCALARS = (int, float, bool, str, type(None))


@dataclass(frozen=True)
class Call:
    """One call of a student function.

    Attributes:
        args: positional arguments; tensors are copied before the call, :data:`MODEL` is replaced.
        kwargs: keyword arguments.
        capture_args: indices of arguments to report after the call: tensors with their ``.grad``
            (in-place functions), models with the number of hooks left on them.
    """

    args: tuple[Any, ...]
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    capture_args: tuple[int, ...] = ()


@dataclass
class CallOutcome:
    """What happened when a student function was called.

    Attributes:
        status: ``"ok"``, ``"error"``, ``"timeout"``, ``"memory"``, ``"crashed"``, ``"missing"`` or
            ``"bad_output"``.
        value: the return value as plain data (tensors, numbers, strings, lists/tuples/dicts).
        args: for each captured argument index, ``{"value": tensor, "grad": tensor | None}``.
        message: plain-language account of a failure (exception and the student's code lines).
        output: what the function printed (capped).
        seconds: wall-clock time of the call.
    """

    status: str
    value: Any = None
    args: dict[int, dict[str, Any]] = field(default_factory=dict)
    message: str = ""
    output: str = ""
    seconds: float = 0.0


class PlainDataError(TypeError):
    """A value is not plain data (or exceeds the caps of :func:`plain_data`)."""


#: Tensor dtypes accepted back from student code (float8, quantized and other exotic dtypes are not:
#: the grader's arithmetic on them could fail and would be the student's output's fault).
PLAIN_DTYPES = frozenset(
    {
        torch.bool,
        torch.uint8,
        torch.int8,
        torch.int16,
        torch.int32,
        torch.int64,
        torch.float16,
        torch.bfloat16,
        torch.float32,
        torch.float64,
    }
)


def plain_data(value: Any, *, max_depth: int = PLAIN_MAX_DEPTH, max_nodes: int = PLAIN_MAX_NODES) -> Any:
    """The one plain-data codec: convert a value to plain data, refusing anything else.

    Used on both sides of the process boundary: in the student's call process on what the function
    returned, and in the grader on what ``torch.load(weights_only=True)`` read back. Tensors are
    detached, made plain ``torch.Tensor`` (subclasses, whose methods could lie, are dropped), moved to
    the CPU, contiguous and owning their memory; ``int``, ``float``, ``bool``, ``str`` and ``None`` are
    kept; lists, tuples and dicts with ``str`` or ``int`` keys are converted element by element.

    The walk is linear in the size of the data and capped: every container or value counts once per
    occurrence, so a small pickle that shares one list many times over cannot make it exponential.

    Args:
        value: what to convert.
        max_depth: deepest nesting accepted.
        max_nodes: most values (containers, tensors, scalars) accepted in total.

    Raises:
        PlainDataError: for any other object, a dense-layout-less or exotic-dtype tensor, nesting
            deeper than ``max_depth`` or more than ``max_nodes`` values.
    """
    budget = [max_nodes]

    def walk(item: Any, depth: int) -> Any:
        budget[0] -= 1
        if budget[0] < 0:
            raise PlainDataError(f"the returned value holds more than {max_nodes} items")
        if depth > max_depth:
            raise PlainDataError("the returned value is nested too deeply")
        kind = type(item)
        if kind in _PLAIN_SCALARS:
            return item
        if isinstance(item, torch.Tensor):
            if item.layout != torch.strided or item.is_quantized or item.dtype not in PLAIN_DTYPES:
                raise PlainDataError(
                    f"a {item.layout} / {item.dtype} tensor came back; only dense tensors of ordinary "
                    "dtypes (float, int, bool) are accepted"
                )
            return item.detach().as_subclass(torch.Tensor).cpu().contiguous().clone()
        if kind in (list, tuple):
            return kind(walk(v, depth + 1) for v in item)
        if kind is dict and all(type(k) in (str, int) for k in item):
            return {k: walk(v, depth + 1) for k, v in item.items()}
        raise PlainDataError(
            f"the function returned a {kind.__module__}.{kind.__qualname__}, "
            "but only tensors, numbers, strings, lists, tuples and dicts of them are accepted"
        )

    return walk(value, 0)


def reset_torch_state(seed: int = 0) -> None:
    """Put torch's global state back to the defaults a check expects (grad on, float32, seeded)."""
    torch.set_grad_enabled(True)
    torch.set_default_dtype(torch.float32)
    torch.manual_seed(seed)


def _is_student_file(filename: str) -> bool:
    # "cell N (...)" in the sandbox; Jupyter names cells ipykernel_*/*.py or <ipython-input-...>
    return filename.startswith("cell ") or "ipykernel_" in filename or filename.startswith("<ipython-input")


def student_traceback(exc: BaseException) -> str:
    """Format an exception with only the frames from student code (files named ``cell ...``)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if _is_student_file(f.filename)]
    lines = [f"{type(exc).__name__}: {exc}"]
    for frame in frames:
        where = f"  {frame.filename}, line {frame.lineno}, in {frame.name}"
        lines.append(where + (f": {frame.line.strip()}" if frame.line else ""))
    return "\n".join(lines)


def _materialize(value: Any, model_factory: Callable[[], torch.nn.Module]) -> Any:
    if isinstance(value, str) and value == MODEL:
        return model_factory()
    if isinstance(value, str) and value == MODEL_FLOAT64:
        return model_factory().double()
    if isinstance(value, str) and value == PROBE_MODEL:
        from autograder.probe import probe_classifier

        return probe_classifier()
    if isinstance(value, torch.Tensor):
        clone = value.detach().clone()
        return clone.requires_grad_(value.requires_grad)
    if isinstance(value, list | tuple):
        return type(value)(_materialize(v, model_factory) for v in value)
    return copy.deepcopy(value)


def prepare_call(call: Call, model_factory: Callable[[], torch.nn.Module]) -> tuple[list, dict]:
    """Fresh copies of a call's arguments; the model placeholders (:data:`MODEL`, ...) become new models."""
    args = [_materialize(a, model_factory) for a in call.args]
    kwargs = {k: _materialize(v, model_factory) for k, v in call.kwargs.items()}
    return args, kwargs


def hook_count(model: torch.nn.Module) -> int:
    """Forward, forward-pre, backward and backward-pre hooks registered on any module of ``model``."""
    hooks = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
    return sum(len(getattr(m, name)) for m in model.modules() for name in hooks)


def captured(args: Sequence[Any], indices: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The captured arguments after a call, as plain data: a tensor with its gradient (in-place functions),
    a model with the number of hooks left registered on it (functions that hook into the model)."""
    out: dict[int, dict[str, Any]] = {}
    for i in indices:
        arg = args[i]
        if isinstance(arg, torch.nn.Module):
            out[i] = {"value": None, "grad": None, "hooks": hook_count(arg)}
            continue
        grad = arg.grad if isinstance(arg, torch.Tensor) else None
        out[i] = {"value": plain_data(arg), "grad": None if grad is None else plain_data(grad)}
    return out


class InProcessRunner:
    """Run functions from a namespace in this process (the student's own kernel, or the solutions).

    Args:
        namespace: where the functions live, e.g. a notebook's globals or ``{"f": f}``.
        model: the model to copy for every :data:`MODEL` argument; ``None``: the course model, loaded
            (once per process) only when a call needs it.
    """

    def __init__(self, namespace: Mapping[str, Any], model: torch.nn.Module | None = None) -> None:
        self.namespace = namespace
        self.model = model

    def _model_copy(self) -> torch.nn.Module:
        return copy.deepcopy(self.model if self.model is not None else course_model())

    def run(self, function: str, call: Call, seed: int = 0) -> CallOutcome:
        """Call ``namespace[function]`` on fresh copies of its arguments, torch seeded with ``seed``."""
        func = self.namespace.get(function)
        if not callable(func):
            return CallOutcome("missing", message=f"{function} is not defined")
        args, kwargs = prepare_call(call, self._model_copy)
        start = time.perf_counter()
        outcome = call_function(func, args, kwargs, seed, call.capture_args)
        outcome.seconds = time.perf_counter() - start
        return outcome


def call_function(
    func: Callable[..., Any],
    args: Sequence[Any],
    kwargs: dict[str, Any],
    seed: int = 0,
    capture_args: Sequence[int] = (),
) -> CallOutcome:
    """``func(*args, **kwargs)`` with torch's global state reset and seeded with ``seed`` (and reset
    again afterwards), its value checked to be plain data; the arguments at ``capture_args`` are sent
    back too (see :func:`captured`). Never raises for anything ``func`` does."""
    try:
        with torch.random.fork_rng():
            reset_torch_state(seed)
            value = func(*args, **kwargs)
        return CallOutcome("ok", value=plain_data(value), args=captured(args, capture_args))
    except PlainDataError as exc:
        return CallOutcome("bad_output", message=str(exc))
    except Exception as exc:
        return CallOutcome("error", message=student_traceback(exc))
    finally:
        reset_torch_state()


@lru_cache(maxsize=1)
def course_model() -> torch.nn.Module:
    """The course model on the CPU, loaded once per process (the pristine copy calls are made from)."""
    from course_utils.models import load_model

    return load_model("cpu")
