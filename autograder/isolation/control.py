"""Process control on the grader's side: the student process handle, killing, reading its files.

Everything here reads what student code could have shaped (its files, its processes) and so never
trusts it: files are opened without following links and read up to a cap, only regular files owned
by the student's uid are accepted, and a process tree is killed by PID namespace where there is one.
"""

from __future__ import annotations

import contextlib
import io
import os
import select
import signal
import stat
import time
from pathlib import Path
from typing import Any, TypeVar

import torch

from autograder.isolation.protocol import Message, decode
from autograder.isolation.template_client import Template
from autograder.runner import CallOutcome, PlainDataError, plain_data
from autograder.settings import TextCaps

#: Statuses a call's result file may carry.
_RESULT_STATUSES = ("ok", "error", "memory", "crashed", "missing", "bad_output", "timeout")

E = TypeVar("E", bound=Message)

__all__ = [
    "EventReader",
    "StudentProcess",
    "decode_result",
    "describe_exit_code",
    "describe_wait_status",
    "kill_student_processes",
    "read_capped",
]


def read_capped(path: Path, limit: int, owner: int | None) -> tuple[bytes, bool]:
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


def describe_exit_code(code: int | None) -> str:
    """A process's end in words, from a :attr:`subprocess.Popen.returncode`-style code."""
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


def describe_wait_status(status: int) -> str:
    try:
        return describe_exit_code(os.waitstatus_to_exitcode(status))
    except (ValueError, OverflowError):  # not a status a real process can have
        return "the process ended with an invalid status"


class StudentProcess:
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


def _zygote_pid(guard_pid: int, namespaced: bool) -> int | None:
    """PID (in the grader's namespace) of the zygote: the guard's child when namespaces are on.

    ``None`` unless that child really is PID 1 of a PID namespace of its own: once the guard has
    exited, its pid may be another process's (pids wrap around, at 32768 on many machines), whose
    child must never be taken for the zygote.
    """
    if not namespaced:
        return guard_pid
    try:
        children = Path(f"/proc/{guard_pid}/task/{guard_pid}/children").read_text().split()
        if not children:
            return None
        status = Path(f"/proc/{children[0]}/status").read_text()
    except OSError:
        return None
    nspid = next((line.split()[1:] for line in status.splitlines() if line.startswith("NSpid:")), [])
    return int(children[0]) if len(nspid) >= 2 and nspid[-1] == "1" else None


def kill_student_processes(guard_pid: int, namespaced: bool, keep_zygote: bool = True) -> None:
    """Kill every process a student process started (all but its zygote when ``keep_zygote``).

    Args:
        guard_pid: the student process's pid as the template forked it.
        namespaced: it runs in its own PID namespace (then every process in that namespace dies,
            escapees included); otherwise only its process group, and only when not ``keep_zygote``.
        keep_zygote: spare the zygote (after a call) or not (when stopping).
    """
    zygote = _zygote_pid(guard_pid, namespaced)
    if zygote is None:
        return
    try:
        namespace = os.readlink(f"/proc/{zygote}/ns/pid")
        if namespaced and namespace == os.readlink("/proc/self/ns/pid"):
            return  # never the grader's own namespace
    except OSError:
        return
    if namespaced:
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


def decode_result(function: str, data: bytes, caps: TextCaps) -> CallOutcome:
    """Read a call's result file (written by student code) as an outcome of plain data, never raising."""
    try:
        payload: Any = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
        if type(payload) is not dict:
            raise PlainDataError("the result is not a dict")
        status = payload.get("status")
        if status not in _RESULT_STATUSES:
            raise PlainDataError(f"unknown status {status!r}")
        message = payload.get("message", "")
        if type(message) is not str:
            raise PlainDataError("the message is not a string")
        if status != "ok":
            return CallOutcome(status, message=message[: caps.message_chars])
        value = plain_data(payload.get("value"))
        args = plain_data(payload.get("args", {}))
        if type(args) is not dict or not all(type(k) is int and type(v) is dict for k, v in args.items()):
            raise PlainDataError("captured arguments are not a dict of dicts by argument index")
    except Exception as exc:  # anything odd in what came back is the student's output's fault
        return CallOutcome(
            "bad_output",
            message=f"{function} returned something that could not be read back safely: {exc}"[
                : caps.message_chars
            ],
        )
    return CallOutcome("ok", value=value, args=args)


class EventReader:
    """Reads the student process's event pipe: one typed message per line, decoded strictly.

    Student code may write to that pipe, so anything malformed, unexpected or longer than
    ``caps.event_bytes`` reads as no event (and sets :attr:`malformed`), never as an error.

    Args:
        fd: the read end of the event pipe (owned by the caller, who closes it).
        caps: caps on text from the student process.
    """

    def __init__(self, fd: int, caps: TextCaps) -> None:
        self.fd = fd
        self.caps = caps
        self.malformed = False  # the last event awaited was malformed (not missing)
        self._buffer = b""

    def next(self, deadline: float, *expected: type[E]) -> E | None:
        """The next event if it is one of ``expected``; ``None`` at ``deadline`` (a
        :func:`time.monotonic` time), on EOF, or for anything malformed or unexpected."""
        self.malformed = False
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.fd], [], [], left)
            if not ready:
                return None
            data = os.read(self.fd, 65536)
            if not data:
                return None
            self._buffer += data
            if len(self._buffer) > self.caps.event_bytes:
                self._buffer = b""
                self.malformed = True
                return None
        line, self._buffer = self._buffer.split(b"\n", 1)
        event = decode(line, *expected)
        self.malformed = event is None
        return event
