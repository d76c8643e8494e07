"""The student process: loads one notebook's code and answers the grader's calls, one fork each.

Forked by a template (:mod:`autograder.isolation.template_server`) and treated as untrusted once
student code has run: the grader checks every byte that comes back. In order:

1. It leads its own session, closes every inherited file descriptor but its two pipes, and takes the
   environment and home the grader chose (:class:`~autograder.isolation.protocol.SpawnConfig`).
2. (Linux) :func:`~autograder.isolation.linux.enter_namespaces`: PID, network, IPC and mount
   namespaces (as an ordinary user inside a user namespace, :mod:`~autograder.isolation.userns`);
   the parent stays behind as a *guard*, the child is PID 1 of the new namespace (the *zygote*) and
   makes the default-deny view its root (:mod:`~autograder.isolation.mounts`): only Python, the
   packages, the course code and its own folders, read-only but its own. When the view cannot be
   made, it exits before any student code runs. Then, as root, it drops to an unprivileged uid with
   ``no_new_privs``; as an ordinary user it drops every capability. Then rlimits. All of this
   happens before any student code.
3. It executes the student's code chunks one by one, each in ``try/except`` with a time limit.
4. For every :class:`~autograder.isolation.protocol.CallRequest` it forks a child that resets torch's
   global state, builds a fresh model from the pristine weights, loads fresh inputs, calls the
   function, converts the result to plain data and ``torch.save``\\ s it; the zygote reports the
   child's exit (:class:`~autograder.isolation.protocol.CallDone`).
"""

from __future__ import annotations

import contextlib
import copy
import errno
import io
import linecache
import os
import resource
import signal
import sys
import time
from collections.abc import Callable
from typing import Any, BinaryIO

from autograder.isolation import linux, userns
from autograder.isolation.protocol import (
    CallDone,
    CallRequest,
    CallStarted,
    Chunk,
    Isolated,
    Message,
    NotebookCode,
    Ready,
    SpawnConfig,
    decode,
    encode,
)
from autograder.notebook_io.extraction import compile_chunk

__all__ = ["EXIT_DONE", "EXIT_INTERNAL", "Warm", "student_process"]

#: Exit code of a call child that finished normally (result file written).
EXIT_DONE = 0
#: Exit code of a call child whose own machinery failed (result could not be written).
EXIT_INTERNAL = 70

#: What the template hands each student process: the course model and a copy of its pristine weights.
Warm = tuple[Any, dict[str, Any]]


def _send(fd: int, message: Message) -> None:
    os.write(fd, encode(message))


class _CappedFile(io.RawIOBase):
    """File descriptor ``fd`` that keeps the first bytes of a shared ``budget`` and drops the rest.

    What a student prints past the cap is dropped silently, as documented: ``print`` never fails
    (a write past ``RLIMIT_FSIZE`` would raise ``OSError: File too large`` in the student's code and
    cost a correct function its points).
    """

    def __init__(self, fd: int, budget: list[int]) -> None:
        super().__init__()
        self._fd = fd
        self._budget = budget

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        size = len(view)
        keep = view[: max(0, min(size, self._budget[0]))]
        while len(keep):
            try:
                written = os.write(self._fd, keep)
            except OSError as exc:
                if exc.errno != errno.EFBIG:
                    raise
                self._budget[0] = 0  # the file is full (C code wrote to the descriptor too)
                break
            self._budget[0] -= written
            keep = keep[written:]
        return size


def _capped_streams(cap: int) -> None:
    """``sys.stdout`` and ``sys.stderr`` (and their ``__std*__`` originals) write to descriptors 1 and 2
    until ``cap`` bytes in all, then drop the rest (:class:`_CappedFile`)."""
    budget = [cap]
    for name, fd in (("stdout", 1), ("stderr", 2)):
        stream = io.TextIOWrapper(
            io.BufferedWriter(_CappedFile(fd, budget)),
            encoding="utf-8",
            errors="backslashreplace",
            line_buffering=True,
        )
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


def _register_source(label: str, code: str, first_line: int, sources: dict[str, list[str]]) -> None:
    """Make tracebacks show the student's lines: merge the chunk into its cell's line cache."""
    lines = sources.setdefault(label, [])
    for number, line in enumerate(code.split("\n"), start=first_line - 1):
        while len(lines) <= number:
            lines.append("\n")
        if line.strip():
            lines[number] = line + "\n"
    linecache.cache[label] = (sum(map(len, lines)), None, lines, label)


class _ChunkTimeout(BaseException):
    """Raised in a chunk that runs past its time limit (BaseException: ``except Exception`` won't eat it)."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise _ChunkTimeout


def _run_chunks(chunks: list[Chunk], namespace: dict[str, Any], timeout_s: float) -> list[str]:
    from autograder.runner import student_traceback

    problems: list[str] = []
    sources: dict[str, list[str]] = {}
    signal.signal(signal.SIGALRM, _on_alarm)
    for chunk in chunks:
        label, code, first_line = chunk.label, chunk.code, chunk.first_line
        _register_source(label, code, first_line, sources)
        try:
            compiled = compile_chunk(code, label, first_line)
            signal.setitimer(signal.ITIMER_REAL, timeout_s)
            try:
                exec(compiled, namespace)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except _ChunkTimeout:
            problems.append(f"{label}: ran longer than {timeout_s:g} s when the notebook was loaded; stopped")
        except SystemExit as exc:
            problems.append(f"{label}: called sys.exit({exc.code!r}) when the notebook was loaded; ignored")
        except BaseException as exc:
            problems.append(f"{label} raised an error when the notebook was loaded: {student_traceback(exc)}")
    return problems


def _memory_error(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and (
        "not enough memory" in text or "can't allocate memory" in text or "Cannot allocate memory" in text
    )


def _call_child(
    request: CallRequest,
    namespace: dict[str, Any],
    model_factory: Callable[[], Any],
    config: SpawnConfig,
) -> None:
    """Body of one call's process: never returns."""
    os.setsid()
    linux.die_with_parent()  # dies with the zygote
    out = os.open(request.output, os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW)  # made by the grader
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(out)
    # Keep the printed output small: Python's streams drop what passes the cap (one byte more than is
    # kept, so the grader sees that it was cut); raw writes to the descriptors fail past the soft limit
    # (Python ignores SIGXFSZ), which bounds the file whatever the code does.
    _capped_streams(config.limits.output_bytes + 1)
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    soft = config.limits.output_bytes + 4096
    resource.setrlimit(
        resource.RLIMIT_FSIZE, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard)
    )
    import torch

    from autograder.runner import (
        Call,
        PlainDataError,
        captured,
        plain_data,
        prepare_call,
        reset_torch_state,
        student_traceback,
    )

    result: dict[str, Any]
    try:
        reset_torch_state(request.seed)
        torch.set_num_threads(1)
        payload = torch.load(request.input, weights_only=True)
        func = namespace.get(request.function)
        if not callable(func):
            result = {"status": "missing", "message": f"{request.function} is not defined in the notebook"}
        else:
            call = Call(tuple(payload["args"]), payload["kwargs"], tuple(payload["capture"]))
            args, kwargs = prepare_call(call, model_factory)
            value = func(*args, **kwargs)
            try:
                result = {
                    "status": "ok",
                    "value": plain_data(value),
                    "args": captured(args, call.capture_args),
                }
            except PlainDataError as exc:
                result = {"status": "bad_output", "message": str(exc)}
    except SystemExit as exc:
        result = {"status": "crashed", "message": f"the function called sys.exit({exc.code!r})"}
    except BaseException as exc:
        status = "memory" if _memory_error(exc) else "error"
        try:
            message = student_traceback(exc)
        except BaseException:
            message = f"{type(exc).__name__} (its message could not be read)"
        if status == "memory":
            limit = config.limits.memory_mb
            message = f"ran out of memory (limit {limit} MB per student process): {message}"
        result = {"status": status, "message": message}
    with contextlib.suppress(BaseException):
        sys.stdout.flush()
        sys.stderr.flush()
    try:
        resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
        try:  # into the file the grader made (the student cannot create files there)
            torch.save(result, request.result)
        except BaseException as exc:
            torch.save(
                {"status": "bad_output", "message": f"the result could not be saved: {exc}"}, request.result
            )
    except BaseException:
        os._exit(EXIT_INTERNAL)
    os._exit(EXIT_DONE)


def _reap_zombies() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def student_process(config: SpawnConfig, cmd_fd: int, evt_fd: int, warm: Warm, template_pid: int) -> None:
    """Body of one notebook's student process, forked from the template: never returns.

    Args:
        config: what the grader's :class:`~autograder.isolation.sandbox.Sandbox` asked for.
        cmd_fd: read end of the command pipe (:class:`~autograder.isolation.protocol.CallRequest` lines).
        evt_fd: write end of the event pipe.
        warm: the template's model and pristine weights.
        template_pid: the parent; if it is already gone, exit at once.
    """
    import torch

    started = time.perf_counter()
    os.setsid()
    # Die with the template (and so with the grader); it may have died before this line ran.
    linux.die_with_parent()
    if os.getppid() != template_pid:
        os._exit(1)
    linux.close_inherited_fds({cmd_fd, evt_fd})
    os.set_inheritable(cmd_fd, False)
    os.set_inheritable(evt_fd, False)
    os.environ.clear()
    os.environ.update(config.env)
    os.chdir(config.home)
    protections: dict[str, str] = {}
    if config.isolate and sys.platform.startswith("linux"):
        config = linux.enter_namespaces(config, cmd_fd, evt_fd, protections)
        if protections.get("view", "").startswith("off"):  # namespaces but no view: run nothing
            _send(evt_fd, Isolated(protections=protections))
            os._exit(EXIT_INTERNAL)
    else:
        protections["namespaces"] = "off (needs Linux)" if config.isolate else "off (disabled)"

    # Setup output (imports, student top-level code) goes to a file, never to the grader's pipes.
    log = os.open(config.setup_output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    _capped_streams(config.limits.output_bytes + 1)  # the grader reads no more than that
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)

    skeleton, pristine = warm

    def model_factory() -> torch.nn.Module:
        model = copy.deepcopy(skeleton)
        model.load_state_dict(pristine)
        model.eval()
        for param in model.parameters():
            param.requires_grad_(False)
        return model

    if config.uid is not None and os.geteuid() == 0:
        os.chown(config.setup_output, config.uid, -1)
        linux.drop_privileges(config.uid, protections)
        # Changing credentials cleared the parent-death signal: die with the guard (and so with the grader).
        linux.die_with_parent()
    elif "user_namespace" in protections:  # the namespace's root gives up every capability
        userns.drop_capabilities(protections)
    os.chdir(config.home)
    linux.set_limits(config, protections)

    with open(config.chunks, "rb") as f:
        code = decode(f.read(), NotebookCode)
    chunks = code.chunks if code is not None else []
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
    # Protections are reported before any student code runs (student code could write to evt_fd).
    _send(evt_fd, Isolated(protections=protections))
    problems = _run_chunks(chunks, namespace, config.limits.chunk_timeout_s)
    sys.stdout.flush()
    sys.stderr.flush()
    _reap_zombies()
    _send(evt_fd, Ready(problems=problems, seconds=time.perf_counter() - started))
    _serve_calls(os.fdopen(cmd_fd, "rb"), evt_fd, namespace, model_factory, config)
    os._exit(0)


def _serve_calls(
    commands: BinaryIO,
    evt_fd: int,
    namespace: dict[str, Any],
    model_factory: Callable[[], Any],
    config: SpawnConfig,
) -> None:
    """Answer the grader's calls, one forked child each, until the command pipe closes."""
    for line in commands:
        request = decode(line, CallRequest)
        if request is None:
            break
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            pid = os.fork()
        except OSError as exc:  # e.g. the student's processes hit RLIMIT_NPROC
            _send(evt_fd, CallStarted(pid=-1))
            _send(evt_fd, CallDone(error=f"could not start the call: {exc}"))
            continue
        if pid == 0:
            try:
                commands.close()
                os.close(evt_fd)
                _call_child(request, namespace, model_factory, config)
            finally:
                os._exit(EXIT_INTERNAL)
        _send(evt_fd, CallStarted(pid=pid))
        _, status = os.waitpid(pid, 0)
        userns.kill_namespace()  # whatever the call started dies with it (only as PID 1 of a namespace)
        _reap_zombies()
        _send(evt_fd, CallDone(status=status))
