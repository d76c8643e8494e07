"""Client of the template processes: the origin, forked once, and one template per grader process.

The grader process imports what the notebooks import and loads the model, then forks the *origin*
(:mod:`autograder.isolation.template_server`) **before it reads any reference file or submission**:
:func:`warm_template`, called first thing by every grading entry point. Each grader process (the
batch's workers included) then asks the origin for its own *template*, which forks a student process
per notebook. Every one of these processes shares the grader's imported modules and model
copy-on-write: grading costs one torch process's worth of memory, not one per process.

Once a process has read references (:func:`seal`), no origin may be forked from it any more: a
template that dies is replaced from the origin, and if the origin itself is gone the grader fails
with a :class:`TemplateError` (a grader error: the submission is not graded and a rerun grades it),
never by forking student processes from a copy of a process that holds references.

The origin and the templates die with the grader (parent-death signals), their student processes
with them; a template whose grader process closed its socket exits.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import select
import signal
import socket
import sys
import threading
from typing import TypeVar

from autograder.isolation.protocol import (
    Message,
    SpawnConfig,
    Spawned,
    SpawnFailed,
    SpawnRequest,
    StopRequest,
    TemplateReady,
    TemplateRequest,
    WaitReply,
    WaitRequest,
    decode,
    encode,
)
from autograder.settings import Timeouts

__all__ = [
    "Template",
    "TemplateError",
    "WatchedProcess",
    "seal",
    "shared_template",
    "template_env",
    "warm_template",
]

R = TypeVar("R", bound=Message)


class TemplateError(RuntimeError):
    """The template process could not be started or stopped answering."""


def template_env(home: str) -> dict[str, str]:
    """Environment of the origin, the templates and every student process: nothing from the grader's.

    Args:
        home: the process's home, working and temporary folder.
    """
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": home,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": home,
        "COURSE_PROGRESS": "0",
        "COURSE_DEVICE": "cpu",
        "CUDA_VISIBLE_DEVICES": "",
    }


class WatchedProcess:
    """A process this one may not be the parent of (the origin forks the templates), watched by pidfd.

    Offers the part of :class:`subprocess.Popen`'s interface the grader uses: ``pid``, ``poll``,
    ``wait``, ``kill``. The exit status of a process that is not our child is unknown: ``poll``
    then returns ``-1`` once it has exited.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        try:
            self._fd: int | None = os.pidfd_open(pid)
        except OSError:  # already gone (or a kernel before 5.3: then kill(pid, 0) below)
            self._fd = None

    def poll(self) -> int | None:
        """``None`` while it runs; its exit code once it has exited (``-1`` when unknown)."""
        return self.returncode if self.wait(0.0) else None

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait up to ``timeout`` seconds (``None``: forever) for it to exit.

        Returns:
            Its exit code (see :meth:`poll`) once it has exited, else ``None``.
        """
        if self.returncode is not None:
            return self.returncode
        if self._fd is not None:
            readable, _, _ = select.select([self._fd], [], [], timeout)
            exited = bool(readable)
        else:
            exited = not _exists(self.pid)
        if not exited:
            return None
        self.returncode = -1
        with contextlib.suppress(ChildProcessError):  # reap it when it is our child
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                self.returncode = os.waitstatus_to_exitcode(status)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        return self.returncode

    def kill(self) -> None:
        """Send SIGKILL (to this very process, never to a later one that reused its pid)."""
        with contextlib.suppress(OSError):
            if self._fd is not None:
                signal.pidfd_send_signal(self._fd, signal.SIGKILL)
            elif self.returncode is None:
                os.kill(self.pid, signal.SIGKILL)

    def forget(self) -> None:
        """Close the pidfd without waiting (a forked copy of the grader that does not own it)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Origin:
    """The origin process: forked from a grader process that had read nothing secret yet."""

    def __init__(self, process: WatchedProcess, sock: socket.socket) -> None:
        self.process = process
        self.sock = sock

    def request_template(self, sock: socket.socket) -> None:
        """Ask for a template serving ``sock`` (the template's end of a new socket pair)."""
        try:
            socket.send_fds(self.sock, [encode(TemplateRequest())], [sock.fileno()])
        except OSError as exc:
            raise TemplateError(f"the template origin stopped answering: {exc}") from exc

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.send(encode(StopRequest()))
        self.sock.close()
        self.process.kill()
        self.process.wait(Timeouts().process_exit_s)


_origin: _Origin | None = None
_origin_owner = 0  # the process that forked it (only that one stops it)
_origin_error = ""  # why it could not be started
_sealed = False
_origin_lock = threading.Lock()


def seal() -> None:
    """Mark this process as holding what student code must never see (references, submissions).

    From now on no origin is forked from it (:func:`warm_template` must have run before). Processes
    forked from it later (batch workers) inherit the mark and the origin.
    """
    global _sealed
    _sealed = True


def _start_origin() -> _Origin:
    from autograder.isolation.template_server import isolated_sys_path, start_origin, warm_up

    if not sys.platform.startswith("linux"):
        raise TemplateError(
            f"the batch grader's sandbox needs Linux (parent-death signals, /proc, namespaces), not "
            f"{sys.platform}: grade in a Linux container or VM (e.g. `docker run`, or Gradescope). "
            "Students' self-checks work everywhere."
        )
    try:
        warm = warm_up()
        path = isolated_sys_path()
    except Exception as exc:
        raise TemplateError(
            f"the grader could not import torch and load the model for its student processes ({exc}); "
            "check that `python -c 'from course_utils.models import load_model; load_model()'` works "
            "in this environment"
        ) from exc
    pid, sock = start_origin(warm, template_env("/nonexistent"), path)
    return _Origin(WatchedProcess(pid), sock)


def _the_origin() -> _Origin:
    """This process's origin: inherited, or forked now if this process has not been sealed."""
    global _origin, _origin_owner, _origin_error
    with _origin_lock:
        if _origin is not None and _origin.process.poll() is not None:
            _origin.sock.close()
            _origin = None
        if _origin is None:
            if _sealed:
                raise TemplateError(
                    _origin_error
                    or "the template origin is gone (killed?) and this grader process has already "
                    "read references, so no student process may be forked from it; run the command "
                    "again: what is graded is kept, the rest is graded then"
                )
            try:
                _origin = _start_origin()
            except TemplateError as exc:
                _origin_error = str(exc)
                raise
            _origin_owner = os.getpid()
        return _origin


class Template:
    """Client side of one template process.

    Args:
        timeouts: how long to wait for the template's answers.
    """

    def __init__(self, timeouts: Timeouts | None = None) -> None:
        self.timeouts = timeouts or Timeouts()
        self.owner = os.getpid()
        self._proc: WatchedProcess | None = None
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._ready = False

    def start(self) -> None:
        """Ask the origin for a template and wait until it answers.

        Raises:
            TemplateError: no origin, or the template did not answer within ``timeouts.template_start_s``.
        """
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        """Ask the origin for a template without waiting for it (see :meth:`wait_ready`)."""
        if self._sock is not None:
            return
        origin = _the_origin()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            origin.request_template(theirs)
        except TemplateError:
            ours.close()
            raise
        finally:
            theirs.close()
        self._sock = ours

    def wait_ready(self) -> None:
        """Wait until the requested template has answered.

        Raises:
            TemplateError: it did not answer within ``timeouts.template_start_s``.
        """
        with self._lock:
            if self._ready:
                return
            if self._sock is None:
                raise TemplateError("the template was not launched")
            reply = self._receive(self.timeouts.template_start_s, TemplateReady)
        if reply is None or reply.pid <= 0:
            self.close()
            raise TemplateError(
                "the grader's student-process template did not start (the template origin did not "
                "answer, or could not fork); check the memory available to the grader"
            )
        self._proc = WatchedProcess(reply.pid)
        self._ready = True

    def alive(self) -> bool:
        """Is the template process running?"""
        return self._proc is not None and self._proc.poll() is None and self._sock is not None

    def spawn(self, config: SpawnConfig, cmd_fd: int, evt_fd: int) -> int:
        """Fork a student process that will run the notebook described by ``config``.

        Args:
            config: the student process's settings.
            cmd_fd: read end of the command pipe, handed to the child (the caller closes its copy).
            evt_fd: write end of the event pipe, handed to the child (the caller closes its copy).

        Returns:
            The child's PID. It leads its own session; reap it with :meth:`wait`.

        Raises:
            TemplateError: the template is gone or did not answer.
        """
        reply = self._request(
            SpawnRequest(config),
            (Spawned, SpawnFailed),
            fds=(cmd_fd, evt_fd),
            timeout=self.timeouts.template_reply_s,
        )
        if isinstance(reply, SpawnFailed) or reply.pid <= 0:
            raise TemplateError(f"the template could not fork a student process: {reply}")
        return reply.pid

    def wait(self, pid: int, timeout: float = 0.0) -> tuple[bool, int | None]:
        """Wait up to ``timeout`` seconds for a spawned child to exit, and reap it.

        Returns:
            ``(exited, exit_code)``: the code as in :attr:`subprocess.Popen.returncode` (negative:
            killed by that signal), ``None`` when unknown. A template that is gone counts as exited:
            its children died with it.
        """
        try:
            reply = self._request(
                WaitRequest(pid=pid, timeout_s=timeout),
                (WaitReply,),
                timeout=timeout + self.timeouts.template_reply_s,
            )
        except TemplateError:
            return True, None
        if not reply.exited:
            return False, None
        return True, (os.waitstatus_to_exitcode(reply.status) if reply.status is not None else None)

    def close(self) -> None:
        """Stop the template (its children die with it)."""
        if self._sock is not None and self.owner == os.getpid():
            with contextlib.suppress(OSError):
                self._sock.send(encode(StopRequest()))
        self.abandon()
        if self._proc is not None:
            if self.owner == os.getpid():
                self._proc.kill()
                self._proc.wait(self.timeouts.process_exit_s)
            self._proc.forget()
            self._proc = None

    def abandon(self) -> None:
        """Forget the template without stopping it (in a forked copy of the grader that does not own it)."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    # ------------------------------------------------------------------ protocol
    def _request(
        self, message: Message, replies: tuple[type[R], ...], *, fds: tuple[int, ...] = (), timeout: float
    ) -> R:
        with self._lock:
            if not self.alive():
                raise TemplateError("the template process is not running")
            assert self._sock is not None
            try:
                socket.send_fds(self._sock, [encode(message)], list(fds))
            except OSError as exc:
                raise TemplateError(f"the template process stopped answering: {exc}") from exc
            reply = self._receive(timeout, *replies)
            if reply is None:
                self._sock.close()  # a late reply must never answer a later request
                self._sock = None
                raise TemplateError(f"the template did not answer within {timeout:g} s")
            return reply

    def _receive(self, timeout: float, *replies: type[R]) -> R | None:
        assert self._sock is not None
        self._sock.settimeout(timeout)
        try:
            data = self._sock.recv(65536)
        except OSError:  # timeout included
            return None
        return decode(data, *replies) if data else None


_shared: Template | None = None
_shared_lock = threading.Lock()


def shared_template(timeouts: Timeouts | None = None, *, wait: bool = True) -> Template:
    """This process's template, requested from the origin (again, if it died) on first use.

    A process forked from the grader (e.g. a batch worker) gets its own, from the same origin.

    Args:
        timeouts: how long to wait for it (default :class:`~autograder.settings.Timeouts`).
        wait: wait until it has answered; ``False`` only sends the request.

    Raises:
        TemplateError: it could not be started.
    """
    global _shared
    with _shared_lock:
        if _shared is not None and _shared.owner != os.getpid():
            _shared.abandon()  # the parent's: leave it to the parent
            if _shared._proc is not None:
                _shared._proc.forget()
            _shared = None
        if _shared is not None and _shared._proc is not None and _shared._proc.poll() is not None:
            _shared.close()
            _shared = None
        if _shared is None:
            _shared = Template(timeouts)
            _shared.launch()
        template = _shared
    if wait:
        try:
            template.wait_ready()
        except TemplateError:
            with _shared_lock:
                if _shared is template:
                    _shared = None
            raise
    return template


def warm_template() -> None:
    """Fork the origin (importing torch and loading the model here first) unless there is one, and
    ask it for this process's template. Call it before reading references or submissions.

    Never raises: what went wrong is raised again, as a :class:`TemplateError` naming the cause, by
    the first sandbox that needs a template (a grader error for that notebook alone).
    """
    with contextlib.suppress(TemplateError, OSError):
        shared_template(wait=False)


def _close_shared() -> None:
    if _shared is not None and _shared.owner == os.getpid():
        _shared.close()
    if _origin is not None and _origin_owner == os.getpid():
        _origin.close()


atexit.register(_close_shared)
