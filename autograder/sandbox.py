"""Run student functions in an isolated process, one fresh fork per call.

A :class:`Sandbox` starts one student process per notebook (see :mod:`autograder.worker`), forked
from a warm template that already holds torch and the course model (:mod:`autograder.template`);
it isolates itself, executes the student's code chunks and then waits. Each
:meth:`Sandbox.call` forks a child from it, so every call starts from the same warmed, pristine
state, and whatever the call does (global torch settings, in-place weight changes, ``sys.exit``,
``os._exit``, a crash, a hang, a huge allocation or print) ends with that child.

Only plain data crosses back: the child writes its result with ``torch.save`` and the grader reads
it with ``torch.load(weights_only=True)`` and then checks every type (:func:`validate_plain`).
Expected outputs never enter the student process.

Protections (each recorded in :attr:`Sandbox.protections`; see docs/grading-safety.md):

* always: separate process with a scrubbed environment and a fresh working directory,
  ``python -I``, wall-clock timeout per call (the call's process group and, with a PID namespace,
  every process the student started are killed), ``RLIMIT_AS`` memory limit, output cap,
  ``RLIMIT_NPROC``, ``RLIMIT_FSIZE``;
* as root on Linux: PID, network (no network at all) and mount namespaces, reference folders,
  solutions and tests hidden under empty read-only mounts, privileges dropped to an unprivileged
  uid with ``no_new_privs`` (the repository and the grader's outputs become read-only).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import select
import shutil
import signal
import stat
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from autograder.extraction import CodeChunk
from autograder.hidden_paths import hidden_paths
from autograder.runner import MODEL, Call, CallOutcome
from autograder.template import Template, TemplateError, shared_template, template_env

__all__ = ["MODEL", "CallOutcome", "Limits", "Sandbox", "validate_plain"]

#: Unprivileged uids handed out to student processes when the grader runs as root: each sandbox
#: leases its own (a lock file under :data:`UID_LOCK_DIR`), so per-uid limits (``RLIMIT_NPROC``) and
#: the files it writes belong to one student process only. No passwd entry is needed.
UID_RANGE = range(61_000, 61_512)
UID_LOCK_DIR = Path("/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir()) / "autograder-uids"


@dataclass(frozen=True)
class Limits:
    """Resource limits for student code.

    Attributes:
        timeout_s: wall-clock seconds per call (the forked child is killed after it).
        memory_mb: address-space limit (``RLIMIT_AS``) of the student process, in MiB. torch with
            the model loaded needs about 1.5 GiB of address space; a check's forward/backward
            passes on a few 224x224 images need a few hundred MiB more.
        output_bytes: printed output (stdout + stderr) kept per call; anything past it is dropped
            (writes past it fail inside the student process).
        setup_timeout_s: seconds for the student process to start (imports, model, the notebook's
            top-level code).
        chunk_timeout_s: seconds for each top-level statement of the notebook while loading it.
        file_mb: largest file the student process may write (``RLIMIT_FSIZE``), in MiB; bounds
            the result files too.
        max_processes: ``RLIMIT_NPROC`` for the student uid (stops fork bombs).
    """

    timeout_s: float = 60.0
    memory_mb: int = 6144
    output_bytes: int = 20_000
    setup_timeout_s: float = 120.0
    chunk_timeout_s: float = 30.0
    file_mb: int = 256
    max_processes: int = 64


_PLAIN_SCALARS = (int, float, bool, str, type(None))


def validate_plain(value: Any, depth: int = 0) -> Any:
    """Check that a deserialized value is plain data and return it with plain tensors.

    Accepts tensors (``Parameter`` and other subclasses are turned into plain ``torch.Tensor``),
    ``int``, ``float``, ``bool``, ``str``, ``None``, and lists, tuples and dicts (``str`` or ``int``
    keys) of them.

    Raises:
        TypeError: for anything else, or nesting deeper than 16 levels.
    """
    if depth > 16:
        raise TypeError("the returned value is nested too deeply")
    kind = type(value)
    if kind in _PLAIN_SCALARS:
        return value
    if isinstance(value, torch.Tensor):
        if value.layout != torch.strided or value.is_quantized or value.device.type != "cpu":
            raise TypeError(
                f"a {value.layout} / {value.dtype} tensor came back; only dense CPU tensors are accepted"
            )
        return value.detach().as_subclass(torch.Tensor)
    if kind in (list, tuple):
        return kind(validate_plain(v, depth + 1) for v in value)
    if kind is dict and all(type(k) in (str, int) for k in value):
        return {k: validate_plain(v, depth + 1) for k, v in value.items()}
    raise TypeError(f"a {kind.__module__}.{kind.__qualname__} came back where only plain data is accepted")


def _read_capped(path: Path, limit: int, owner: int | None) -> tuple[bytes, bool]:
    """Read at most ``limit`` bytes of a regular file written by the student (no symlinks)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return b"", False
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or (owner is not None and info.st_uid != owner):
            return b"", False
        data = os.read(fd, limit + 1)
        return data[:limit], len(data) > limit or info.st_size > limit
    finally:
        os.close(fd)


def _describe_exit(status: int) -> str:
    return _describe_exit_code(os.waitstatus_to_exitcode(status))


def _describe_exit_code(code: int | None) -> str:
    if code is None:
        return "the process ended; its exit status is unknown"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        extra = " (out of memory, or the code killed its own process)" if -code == signal.SIGKILL else ""
        return f"the process was killed by {name}{extra}"
    return f"the process exited with code {code} without returning (sys.exit, os._exit or a crash)"


class _StudentProcess:
    """A notebook's student process, forked by the template (which reaps it; see :meth:`wait`)."""

    def __init__(self, template: Template, pid: int) -> None:
        self.template = template
        self.pid = pid
        self.exited = False
        self.returncode: int | None = None  # as in Popen; None while running or when unknown

    def running(self) -> bool:
        """Is it still running? (Reaps it once it has exited.)"""
        return not self.wait(0.0)

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for it to exit; ``True`` once it has."""
        if not self.exited:
            self.exited, self.returncode = self.template.wait(self.pid, timeout)
        return self.exited


class Sandbox:
    """An isolated student process for one notebook's code; a context manager.

    Args:
        chunks: the student's code, from :func:`autograder.extraction.extract_student_code`.
        limits: time, memory and output limits.
        hide: extra paths the student process must not see (reference folders, output folders).
            The course roots, the package's references and every loaded reference file are always
            hidden (:func:`autograder.hidden_paths.hidden_paths`).
        isolate: use namespaces, hidden paths and an unprivileged uid when running as root on
            Linux (turn off only to debug).
        uid: the unprivileged uid for student code when the grader runs as root; default: a free
            one leased from :data:`UID_RANGE`.

    Attributes:
        setup_problems: what went wrong while loading the notebook's code (one line per chunk).
        grader_error: why the grader could not run the notebook at all (its template process failed):
            not the student's fault, so the result must not count.
        setup_output: what the notebook's top-level code printed (capped).
        protections: which protections are active, e.g. ``{"uid": "dropped to uid 65534", ...}``.
        start_seconds: how long the last start of the student process took.

    Example:
        >>> with Sandbox(chunks, Limits(timeout_s=10)) as box:
        ...     outcome = box.call("gram_matrix", (torch.randn(1, 3, 4, 4),))
    """

    def __init__(
        self,
        chunks: Sequence[CodeChunk],
        limits: Limits | None = None,
        *,
        hide: Sequence[str | Path] = (),
        isolate: bool = True,
        uid: int | None = None,
    ) -> None:
        self.chunks = list(chunks)
        self.limits = limits or Limits()
        self.hide = hidden_paths(hide)  # course roots, references, ``hide``: what is on disk
        self.isolate = isolate
        self._requested_uid = uid
        self.uid: int | None = None
        self._uid_lock: int | None = None
        self.setup_problems: list[str] = []
        self.setup_output = ""
        self.protections: dict[str, str] = {}
        self.start_seconds = 0.0
        self._root: Path | None = None
        self._proc: _StudentProcess | None = None
        self._cmd_w: int | None = None
        self._evt_r: int | None = None
        self._buffer = b""
        self._calls = 0
        self._broken: str | None = None  # why the student process cannot be started at all
        self.grader_error: str | None = None  # set when that is the grader's fault, not the notebook's

    # ----------------------------------------------------------------- lifecycle
    def _lease_uid(self) -> None:
        if os.geteuid() != 0 or not self.isolate:
            return
        if self._requested_uid is not None:
            self.uid = self._requested_uid
            return
        import fcntl

        UID_LOCK_DIR.mkdir(mode=0o700, exist_ok=True)
        start = os.getpid() % len(UID_RANGE)
        for i in range(len(UID_RANGE)):
            uid = UID_RANGE[(start + i) % len(UID_RANGE)]
            fd = os.open(UID_LOCK_DIR / f"{uid}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            self.uid, self._uid_lock = uid, fd
            return
        raise RuntimeError(f"all {len(UID_RANGE)} sandbox uids are in use: run fewer graders at once")

    def __enter__(self) -> Sandbox:
        self._lease_uid()
        self._root = Path(tempfile.mkdtemp(prefix="autograder-sandbox-"))
        self._root.chmod(0o755)
        for name in ("in", "home", "out"):
            (self._root / name).mkdir()
        (self._root / "in").chmod(0o755)
        if self.uid is not None:  # the student owns its home; out/ holds only files the grader made
            os.chown(self._root / "home", self.uid, self.uid)
        (self._root / "home").chmod(0o700)
        (self._root / "out").chmod(0o711 if self.uid is not None else 0o700)
        chunks = [{"label": c.label, "code": c.code} for c in self.chunks]
        (self._root / "in" / "chunks.json").write_text(json.dumps(chunks))
        self._start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the student process and everything it started; remove the working directory."""
        self._stop()
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None
        if self._uid_lock is not None:
            os.close(self._uid_lock)  # releases the flock
            self._uid_lock = None

    def _start(self) -> None:
        assert self._root is not None
        started = time.perf_counter()
        try:
            template = shared_template(self.limits.setup_timeout_s)
        except TemplateError as exc:
            self._broken = self.grader_error = f"the student process could not be started: {exc}"
            self.setup_problems.append(self._broken)
            return
        home = str(self._root / "home")
        config = {
            "env": template_env(home),
            "chunks": str(self._root / "in" / "chunks.json"),
            "home": home,
            "setup_output": str(self._root / "out" / "setup.txt"),
            "hide": self.hide,
            "isolate": self.isolate,
            "uid": self.uid,
            "memory_mb": self.limits.memory_mb,
            "file_mb": self.limits.file_mb,
            "max_processes": self.limits.max_processes,
            "output_bytes": self.limits.output_bytes,
            "chunk_timeout_s": self.limits.chunk_timeout_s,
            "tmp_mb": self.limits.file_mb,
        }
        cmd_r, cmd_w = os.pipe()
        evt_r, evt_w = os.pipe()
        try:
            self._proc = _StudentProcess(template, template.spawn(config, cmd_r, evt_w))
        except TemplateError as exc:
            for fd in (cmd_w, evt_r):
                os.close(fd)
            self._broken = self.grader_error = f"the student process could not be started: {exc}"
            self.setup_problems.append(self._broken)
            return
        finally:
            os.close(cmd_r)
            os.close(evt_w)
        self._cmd_w, self._evt_r = cmd_w, evt_r
        self._buffer = b""
        isolated = self._next_event(time.monotonic() + self.limits.setup_timeout_s)
        event = None
        if isolated is not None and isolated.get("event") == "isolated":
            self.protections = {str(k): str(v) for k, v in dict(isolated.get("protections", {})).items()}
            event = self._next_event(time.monotonic() + self.limits.setup_timeout_s)
        setup_out, truncated = _read_capped(self._root / "out" / "setup.txt", self.limits.output_bytes, None)
        self.setup_output = setup_out.decode(errors="replace") + ("\n[output truncated]" if truncated else "")
        self.start_seconds = time.perf_counter() - started
        if event is None or event.get("event") != "ready":
            why = (
                f"did not finish loading within {self.limits.setup_timeout_s:g} s"
                if self._proc.running()
                else f"died while loading ({_describe_exit_code(self._proc.returncode)})"
            )
            self._stop()
            self._broken = f"the notebook's code could not be loaded: the student process {why}"
            tail = self.setup_output.strip().splitlines()[-5:]
            if tail:
                self._broken += " (last output: " + " | ".join(tail) + ")"
            self.setup_problems.append(self._broken)
            return
        problems = event.get("problems", [])
        self.setup_problems = [str(p)[:5000] for p in (problems if isinstance(problems, list) else [])][:100]
        self.protections.setdefault("timeout_s", str(self.limits.timeout_s))
        self.protections.setdefault("output_bytes", str(self.limits.output_bytes))

    def _stop(self) -> None:
        if self._proc is not None:
            self._kill_students(keep_zygote=False)
            if not self._proc.exited:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait(10)
            self._proc = None
        for fd in (self._cmd_w, self._evt_r):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._cmd_w = self._evt_r = None

    # ------------------------------------------------------------ process control
    def _zygote_pid(self) -> int | None:
        """PID (in our namespace) of the zygote: the guard's child when namespaces are on."""
        if self._proc is None:
            return None
        if self.protections.get("pid_namespace") != "on":
            return self._proc.pid
        try:
            children = Path(f"/proc/{self._proc.pid}/task/{self._proc.pid}/children").read_text().split()
        except OSError:
            return None
        return int(children[0]) if children else None

    def _kill_students(self, keep_zygote: bool = True) -> None:
        """Kill every process the student started (all but the zygote when ``keep_zygote``)."""
        zygote = self._zygote_pid()
        if zygote is None:
            return
        try:
            namespace = os.readlink(f"/proc/{zygote}/ns/pid")
        except OSError:
            return
        if self.protections.get("pid_namespace") == "on":
            for entry in os.listdir("/proc"):
                if not entry.isdigit() or (keep_zygote and int(entry) == zygote):
                    continue
                try:
                    if os.readlink(f"/proc/{entry}/ns/pid") == namespace:
                        os.kill(int(entry), signal.SIGKILL)
                except OSError:
                    continue
        elif not keep_zygote:
            with contextlib.suppress(OSError):
                os.killpg(zygote, signal.SIGKILL)

    def _next_event(self, deadline: float) -> dict[str, Any] | None:
        """The next JSON event from the student process, or ``None`` at the deadline / on EOF."""
        assert self._evt_r is not None
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self._evt_r], [], [], left)
            if not ready:
                return None
            data = os.read(self._evt_r, 65536)
            if not data:
                return None
            self._buffer += data
            if len(self._buffer) > 1_000_000:
                return None
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            event = json.loads(line)
        except ValueError:
            return None
        return event if isinstance(event, dict) else None

    # -------------------------------------------------------------------- calls
    def run(self, function: str, call: Call) -> CallOutcome:
        """Run ``function`` as described by ``call`` (the :class:`autograder.runner.Runner` protocol)."""
        return self.call(function, tuple(call.args), dict(call.kwargs), tuple(call.capture_args))

    def call(
        self,
        function: str,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any] | None = None,
        capture_args: tuple[int, ...] = (),
    ) -> CallOutcome:
        """Call a student function in a fresh fork of the student process.

        Args:
            function: the function's name in the notebook.
            args: positional arguments: tensors, numbers, strings, lists/tuples/dicts of them, and
                :data:`MODEL` for a pristine copy of the course model.
            kwargs: keyword arguments, same kinds.
            capture_args: indices of arguments to send back after the call (in-place functions).

        Returns:
            The outcome; never raises for anything the student code does.
        """
        if self._root is None:
            raise RuntimeError("use the Sandbox in a `with` block before calling functions")
        started = time.perf_counter()
        outcome = self._call(function, args, dict(kwargs or {}), capture_args)
        outcome.seconds = time.perf_counter() - started
        return outcome

    def _call(
        self, function: str, args: tuple[Any, ...], kwargs: dict[str, Any], capture_args: tuple[int, ...]
    ) -> CallOutcome:
        assert self._root is not None
        if self._broken:
            return CallOutcome("crashed", message=self._broken)
        if self._proc is None or not self._proc.running():
            self._stop()
            self._start()
            if self._broken:
                return CallOutcome("crashed", message=self._broken)
        self._calls += 1
        n = f"{self._calls}-{secrets.token_hex(8)}"  # unguessable: no result can be planted in advance
        inputs = self._root / "in" / f"call{n}.pt"
        torch.save({"args": list(args), "kwargs": kwargs, "capture": list(capture_args)}, inputs)
        inputs.chmod(0o644)
        result = self._root / "out" / f"result{n}.pt"
        output = self._root / "out" / f"output{n}.txt"
        for path in (result, output):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            if self.uid is not None:
                os.fchown(fd, self.uid, self.uid)
            os.close(fd)
        request = {
            "command": "call",
            "function": function,
            "input": str(inputs),
            "result": str(result),
            "output": str(output),
            "seed": 0,
        }
        try:
            assert self._cmd_w is not None
            os.write(self._cmd_w, (json.dumps(request) + "\n").encode())
        except OSError:
            self._stop()
            return CallOutcome("crashed", message="the student process died before the call")
        deadline = time.monotonic() + self.limits.timeout_s
        started = self._next_event(time.monotonic() + 30)
        done = self._next_event(deadline) if started is not None else None
        timed_out = False
        if done is None:
            timed_out = started is not None and time.monotonic() >= deadline - 0.05
            self._kill_call(started)
            done = self._next_event(time.monotonic() + 5)
            if done is None:  # the zygote itself misbehaves: start a new one next time
                self._stop()
        inputs.unlink(missing_ok=True)
        printed, truncated = _read_capped(output, self.limits.output_bytes, self.uid)
        text = printed.decode(errors="replace") + (
            f"\n[output truncated to {self.limits.output_bytes} bytes]" if truncated else ""
        )
        outcome = self._outcome(function, result, done, timed_out)
        outcome.output = text
        for path in (result, output):
            path.unlink(missing_ok=True)
        return outcome

    def _kill_call(self, started: dict[str, Any] | None) -> None:
        if self.protections.get("pid_namespace") == "on":
            self._kill_students(keep_zygote=True)
        elif started is not None and isinstance(started.get("pid"), int) and started["pid"] > 1:
            with contextlib.suppress(OSError):
                os.killpg(started["pid"], signal.SIGKILL)

    def _outcome(
        self, function: str, result: Path, done: dict[str, Any] | None, timed_out: bool
    ) -> CallOutcome:
        # Children the call left behind die now, whatever happened.
        if self.protections.get("pid_namespace") == "on":
            self._kill_students(keep_zygote=True)
        if timed_out:
            return CallOutcome(
                "timeout",
                message=f"{function} did not finish within {self.limits.timeout_s:g} s and was stopped "
                "(an endless loop, a long sleep, or far too much work?)",
            )
        data, too_big = _read_capped(result, self.limits.file_mb * 1024 * 1024, self.uid)
        if not data:
            if done is None:
                return CallOutcome("crashed", message=f"{function} crashed the student process")
            status = done.get("status")
            if isinstance(done.get("error"), str):
                why = done["error"][:500]
            elif isinstance(status, int) and status >= 0:
                why = _describe_exit(status)
            else:
                why = "the process ended without a result"
            return CallOutcome("crashed", message=f"{function}: {why}")
        if too_big:
            return CallOutcome(
                "bad_output", message=f"{function} returned more than {self.limits.file_mb} MB"
            )
        try:
            import io

            payload = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
            if type(payload) is not dict:
                raise TypeError("the result is not a dict")
            status = payload.get("status")
            if status not in ("ok", "error", "memory", "crashed", "missing", "bad_output", "timeout"):
                raise TypeError(f"unknown status {status!r}")
            message = payload.get("message", "")
            if type(message) is not str:
                raise TypeError("the message is not a string")
            if status != "ok":
                return CallOutcome(status, message=message[:20_000])
            value = validate_plain(payload.get("value"))
            args = validate_plain(payload.get("args", {}))
            if type(args) is not dict:
                raise TypeError("captured arguments are not a dict")
        except Exception as exc:  # anything odd in what came back is the student's output's fault
            return CallOutcome(
                "bad_output",
                message=f"{function} returned something that could not be read back safely: {exc}",
            )
        return CallOutcome("ok", value=value, args={int(k): v for k, v in args.items()})

    def describe(self) -> dict[str, Any]:
        """Limits and active protections, as plain data (for reports and the README)."""
        return {"limits": asdict(self.limits), "protections": dict(self.protections)}
