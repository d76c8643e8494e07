"""Client of the template processes: the origin, forked once, and one template per grader process.

The grader process imports what the notebooks import and loads the model, then forks the *origin*
(:mod:`autograder.isolation.template_server`) **before it reads any reference file or submission**:
:func:`warm_template`, called first thing by every grading entry point. Each grader process (the
batch's workers included) then asks the origin for its own *template*, which forks a student process
per notebook. Every one of these processes shares the grader's imported modules and model
copy-on-write: grading costs one torch process's worth of memory, not one per process.

A template that dies is replaced from the origin (:mod:`autograder.isolation.origin`, which also
says what happens when the origin itself is gone).

The origin and the templates die with the grader (parent-death signals), their student processes
with them; a template whose grader process closed its socket exits.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import socket
import threading
from typing import TypeVar

from autograder.isolation.origin import TemplateError, close_origin, template_env, the_origin
from autograder.isolation.protocol import (
    Message,
    SpawnConfig,
    Spawned,
    SpawnFailed,
    SpawnRequest,
    StopRequest,
    TemplateReady,
    WaitReply,
    WaitRequest,
    decode,
    encode,
)
from autograder.isolation.watched import WatchedProcess
from autograder.settings import Timeouts

__all__ = ["Template", "TemplateError", "shared_template", "template_env", "warm_template"]

R = TypeVar("R", bound=Message)


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
        origin = the_origin()
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
        self._ready = False

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
        if _shared is not None and (
            _shared._sock is None or (_shared._proc is not None and _shared._proc.poll() is not None)
        ):  # closed, timed out or dead: a fresh one
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
    close_origin()


atexit.register(_close_shared)
