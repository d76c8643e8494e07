"""The typed messages that cross a process boundary, and their one codec.

Four channels connect the grader, the origin, the templates and the student processes (see
:mod:`autograder.isolation.template_server`):

* any grader process -> the origin (a ``SOCK_SEQPACKET`` socket pair): :class:`TemplateRequest`,
  :class:`StopRequest`; never answered there;
* grader -> its template (a ``SOCK_SEQPACKET`` socket pair): :class:`SpawnRequest`, :class:`WaitRequest`,
  :class:`StopRequest`; answered by :class:`TemplateReady`, :class:`Spawned`, :class:`SpawnFailed`,
  :class:`WaitReply`;
* grader -> student process (a pipe): :class:`CallRequest`, one JSON line each;
* student process -> grader (a pipe): :class:`Isolated`, :class:`Ready`, :class:`CallStarted`,
  :class:`CallDone`, one JSON line each.

Every message is a frozen dataclass. :func:`encode` writes ``{"kind": ..., **fields}`` as JSON;
:func:`decode` reads it back **strictly**: the kind must be one the receiver expects and every field
must have its declared type (``int`` fields in a 64-bit range), else it returns ``None``. Student code
can write to the event pipe while the notebook loads, so the grader treats every event as untrusted
and a malformed one exactly like a missing one.

Tensors never travel here: call inputs and results are files written with ``torch.save`` and read
with ``torch.load(weights_only=True)``, then checked by :func:`autograder.runner.plain_data`.
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields
from functools import cache
from typing import Any, ClassVar, TypeVar, Union

from autograder.settings import Limits

__all__ = [
    "CallDone",
    "CallRequest",
    "CallStarted",
    "Isolated",
    "Message",
    "Ready",
    "SpawnConfig",
    "SpawnFailed",
    "SpawnRequest",
    "Spawned",
    "StopRequest",
    "TemplateReady",
    "TemplateRequest",
    "WaitReply",
    "WaitRequest",
    "decode",
    "encode",
]

#: Integers in messages must fit in a signed 64-bit value (pids, statuses, fds, uids).
_INT_RANGE = (-(2**63), 2**63 - 1)


@dataclass(frozen=True)
class Message:
    """Base of every message; ``kind`` names it on the wire."""

    kind: ClassVar[str] = ""


# ----------------------------------------------------------------------------- template channel
@dataclass(frozen=True)
class TemplateRequest(Message):
    """Fork a template that serves the socket attached to this request (``SCM_RIGHTS``).

    Sent to the origin by any grader process; never answered on the origin's socket: the new
    template sends :class:`TemplateReady` on its own.
    """

    kind: ClassVar[str] = "template_request"


@dataclass(frozen=True)
class SpawnConfig(Message):
    """How the template must start one notebook's student process.

    Attributes:
        env: the process's whole environment.
        chunks: JSON file with the student's code chunks (``[{"label", "code", "first_line"}]``).
        home: its home, working and temporary folder (inside the sandbox folder).
        setup_output: file that receives what loading the notebook prints.
        hide: paths to hide behind empty mounts (when namespaces are available).
        isolate: use namespaces, hidden paths and (as root) another uid.
        uid: the unprivileged uid to drop to (root only), ``None`` to keep the current one.
        limits: the student's resource limits.
    """

    kind: ClassVar[str] = "spawn_config"
    env: dict[str, str]
    chunks: str
    home: str
    setup_output: str
    hide: list[str]
    isolate: bool
    uid: int | None
    limits: Limits


@dataclass(frozen=True)
class SpawnRequest(Message):
    """Fork a student process; the request carries its two pipes as file descriptors (``SCM_RIGHTS``)."""

    kind: ClassVar[str] = "spawn"
    config: SpawnConfig


@dataclass(frozen=True)
class WaitRequest(Message):
    """Reap student process ``pid`` if it exits within ``timeout_s`` seconds."""

    kind: ClassVar[str] = "wait"
    pid: int
    timeout_s: float


@dataclass(frozen=True)
class StopRequest(Message):
    """Exit (the student processes die with the template)."""

    kind: ClassVar[str] = "stop"


@dataclass(frozen=True)
class TemplateReady(Message):
    """A template forked by the origin is ready: its ``pid``, and the ``seconds`` it took."""

    kind: ClassVar[str] = "template_ready"
    seconds: float
    pid: int


@dataclass(frozen=True)
class Spawned(Message):
    """A student process was forked with this pid."""

    kind: ClassVar[str] = "spawned"
    pid: int


@dataclass(frozen=True)
class SpawnFailed(Message):
    """The template could not fork a student process."""

    kind: ClassVar[str] = "spawn_failed"
    error: str


@dataclass(frozen=True)
class WaitReply(Message):
    """Whether the process exited, and its raw wait status (``None`` when unknown)."""

    kind: ClassVar[str] = "wait_reply"
    exited: bool
    status: int | None = None


# ------------------------------------------------------------------------------ student channel
@dataclass(frozen=True)
class CallRequest(Message):
    """Call one student function in a fresh fork of the student process.

    Attributes:
        function: the function's name in the notebook.
        input: file with ``{"args", "kwargs", "capture"}`` written by the grader (``torch.save``).
        result: file the call writes its result to (created by the grader).
        output: file the call's stdout/stderr go to (created by the grader).
        seed: torch's seed for the call.
    """

    kind: ClassVar[str] = "call"
    function: str
    input: str
    result: str
    output: str
    seed: int = 0


@dataclass(frozen=True)
class Isolated(Message):
    """Sent before any student code runs: which protections are active."""

    kind: ClassVar[str] = "isolated"
    protections: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Ready(Message):
    """The notebook's code is loaded; ``problems`` met while loading it."""

    kind: ClassVar[str] = "ready"
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(frozen=True)
class CallStarted(Message):
    """A call's process was forked (``pid`` in the student's namespace; -1 when the fork failed)."""

    kind: ClassVar[str] = "call_started"
    pid: int


@dataclass(frozen=True)
class CallDone(Message):
    """A call's process ended: its raw wait status, or why it could not run."""

    kind: ClassVar[str] = "call_done"
    status: int | None = None
    error: str | None = None


_KINDS: dict[str, type[Message]] = {
    cls.kind: cls
    for cls in (
        TemplateRequest,
        SpawnConfig,
        SpawnRequest,
        WaitRequest,
        StopRequest,
        TemplateReady,
        Spawned,
        SpawnFailed,
        WaitReply,
        CallRequest,
        Isolated,
        Ready,
        CallStarted,
        CallDone,
    )
}

M = TypeVar("M", bound=Message)


def _to_wire(value: Any) -> Any:
    if isinstance(value, Message):
        return {"kind": value.kind, **{f.name: _to_wire(getattr(value, f.name)) for f in fields(value)}}
    if isinstance(value, Limits):
        return asdict(value)
    if isinstance(value, list | tuple):
        return [_to_wire(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_wire(v) for k, v in value.items()}
    return value


def encode(message: Message) -> bytes:
    """The message as one line of JSON (``{"kind": ..., **fields}``), newline-terminated."""
    return (json.dumps(_to_wire(message), allow_nan=False) + "\n").encode()


class _InvalidMessageError(Exception):
    pass


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _typed(value: Any, hint: Any) -> Any:
    """``value`` checked (and rebuilt) against a type hint; raises :class:`_InvalidMessageError`."""
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        for option in typing.get_args(hint):
            try:
                return _typed(value, option)
            except _InvalidMessageError:
                continue
        raise _InvalidMessageError(f"{value!r} matches none of {hint}")
    if hint is type(None):
        if value is None:
            return None
        raise _InvalidMessageError("expected null")
    if hint is bool:
        if type(value) is bool:
            return value
        raise _InvalidMessageError("expected a boolean")
    if hint is int:
        if type(value) is int and _INT_RANGE[0] <= value <= _INT_RANGE[1]:
            return value
        raise _InvalidMessageError("expected a 64-bit integer")
    if hint is float:
        if type(value) in (int, float) and not isinstance(value, bool):
            return float(value)
        raise _InvalidMessageError("expected a number")
    if hint is str:
        if type(value) is str:
            return value
        raise _InvalidMessageError("expected a string")
    if origin is list:
        (item,) = typing.get_args(hint)
        if type(value) is list:
            return [_typed(v, item) for v in value]
        raise _InvalidMessageError("expected a list")
    if origin is dict:
        key, item = typing.get_args(hint)
        if type(value) is dict:
            return {_typed(k, key): _typed(v, item) for k, v in value.items()}
        raise _InvalidMessageError("expected an object")
    if isinstance(hint, type) and (issubclass(hint, Message) or hint is Limits):
        if type(value) is not dict:
            raise _InvalidMessageError(f"expected a {hint.__name__}")
        if issubclass(hint, Message):
            if value.get("kind") != hint.kind:
                raise _InvalidMessageError(f"expected kind {hint.kind!r}")
            value = {k: v for k, v in value.items() if k != "kind"}
        return _build(hint, value)
    raise _InvalidMessageError(f"unsupported field type {hint}")


def _build(cls: type, data: dict[str, Any]) -> Any:
    hints = _hints(cls)
    known = {f.name for f in fields(cls)}
    if set(data) - known:
        raise _InvalidMessageError(f"unexpected fields {sorted(set(data) - known)}")
    values = {}
    for f in fields(cls):
        if f.name in data:
            values[f.name] = _typed(data[f.name], hints[f.name])
        elif f.default is MISSING and f.default_factory is MISSING:
            raise _InvalidMessageError(f"missing field {f.name!r}")
    return cls(**values)


def decode(data: bytes | str, *expected: type[M]) -> M | None:
    """Read one message of one of the ``expected`` classes; ``None`` for anything else.

    Never raises: malformed JSON, an unexpected kind, a missing, extra or mistyped field (an integer
    outside 64 bits included) all give ``None``.
    """
    try:
        raw = json.loads(data)
    except (ValueError, RecursionError):
        return None
    if type(raw) is not dict:
        return None
    cls = _KINDS.get(raw.get("kind")) if type(raw.get("kind")) is str else None
    if cls is None or cls not in expected:
        return None
    try:
        return typing.cast(M, _typed(raw, cls))
    except (_InvalidMessageError, RecursionError, TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- files of a notebook
@dataclass(frozen=True)
class Chunk(Message):
    """One top-level statement of student code, as the student process runs it.

    Attributes:
        label: where it is, e.g. ``"cell 7 (compute_saliency_maps)"`` (the file name in tracebacks).
        code: its source (the statement only).
        first_line: the line of the cell it starts on (tracebacks give cell line numbers).
    """

    kind: ClassVar[str] = "chunk"
    label: str
    code: str
    first_line: int = 1


@dataclass(frozen=True)
class NotebookCode(Message):
    """The chunks file the student process loads: every statement to run, in order."""

    kind: ClassVar[str] = "notebook_code"
    chunks: list[Chunk]


_KINDS.update({Chunk.kind: Chunk, NotebookCode.kind: NotebookCode})
