"""Client of the warm template: one long-lived process per grader that forks a student process per notebook.

Starting a student process from nothing costs about 3 s on a laptop CPU (Python, torch, timm, the
course modules, the model), far more than grading the notebook once it runs. The template pays that
once: it imports everything the notebooks import and loads the model, **runs no student code**, and
then forks one child per :class:`autograder.isolation.sandbox.Sandbox`. Each child isolates
itself (namespaces, hidden paths, private /tmp, its own uid, rlimits; see
:mod:`autograder.isolation.student`) before it runs any student code, exactly as a freshly
started process would, so sharing the template costs no isolation: what one student process does
never reaches the template or the next one.

The grader talks to the template over a Unix ``SOCK_SEQPACKET`` socket pair: typed messages
(:mod:`autograder.isolation.protocol`), and the spawned child's pipes passed as file descriptors
(``SCM_RIGHTS``). The template dies with the grader (parent-death signal), and its children die
with it.

Each grader process owns one template (:func:`shared_template`), started on first use; parallel
grading workers each have their own. The server side is :mod:`autograder.isolation.template_main`.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from typing import TypeVar

from autograder.isolation.protocol import (
    Message,
    SpawnConfig,
    Spawned,
    SpawnFailed,
    SpawnRequest,
    StopRequest,
    TemplateConfig,
    TemplateReady,
    WaitReply,
    WaitRequest,
    decode,
    encode,
)
from autograder.settings import Timeouts

__all__ = ["Template", "TemplateError", "shared_template", "template_env", "warm_template"]

R = TypeVar("R", bound=Message)


class TemplateError(RuntimeError):
    """The template process could not be started or stopped answering."""


def template_env(home: str) -> dict[str, str]:
    """Environment of the template and every student process: nothing from the grader's.

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
        "CUDA_VISIBLE_DEVICES": "",
    }


class Template:
    """Client side of one template process.

    Args:
        timeouts: how long to wait for the template (its start, its answers).
    """

    def __init__(self, timeouts: Timeouts | None = None) -> None:
        self.timeouts = timeouts or Timeouts()
        self.owner = os.getpid()
        self._home = tempfile.mkdtemp(prefix="autograder-template-")
        self._proc: subprocess.Popen | None = None
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._ready = False

    def start(self) -> None:
        """Start the template and wait until it has loaded torch and the model.

        Raises:
            TemplateError: it died or did not get ready within ``timeouts.template_start_s``.
        """
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        """Start the template process without waiting for it (see :meth:`wait_ready`)."""
        if self._proc is not None:
            return
        if not sys.platform.startswith("linux"):
            raise TemplateError(
                f"the batch grader's sandbox needs Linux (parent-death signals, /proc, namespaces), not "
                f"{sys.platform}: grade in a Linux container or VM (e.g. `docker run`, or Gradescope). "
                "Students' self-checks work everywhere."
            )
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        config = os.path.join(self._home, "template.json")
        with open(config, "w") as f:
            f.write(encode(TemplateConfig(control_fd=theirs.fileno(), grader_pid=os.getpid())).decode())
        try:
            # The command line names a file under $TMPDIR: tests find leftover processes by it.
            self._proc = subprocess.Popen(
                [sys.executable, "-I", "-m", "autograder.isolation.template_main", config],
                cwd=self._home,
                env=template_env(self._home),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                start_new_session=True,
            )
        finally:
            theirs.close()
        self._sock = ours

    def wait_ready(self) -> None:
        """Wait until the launched template has imported torch and loaded the model.

        Raises:
            TemplateError: it died or did not get ready within ``timeouts.template_start_s``.
        """
        with self._lock:
            if self._ready:
                return
            if self._proc is None or self._sock is None:
                raise TemplateError("the template was not launched")
            reply = self._receive(self.timeouts.template_start_s, TemplateReady)
            code = self._proc.poll()
        if reply is None:
            self.close()
            why = "did not get ready in time" if code is None else f"exited with code {code}"
            raise TemplateError(
                f"the grader's student-process template {why} while importing torch and loading the "
                "model; check that `python -c 'from course_utils.models import load_model; load_model()'` "
                "works in this environment"
            )
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
        """Stop the template (its children die with it) and remove its folder."""
        if self._sock is not None and self.owner == os.getpid():
            with contextlib.suppress(OSError):
                self._sock.send(encode(StopRequest()))
        self.abandon()
        if self._proc is not None:
            with contextlib.suppress(OSError):
                self._proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=self.timeouts.process_exit_s)
            self._proc = None
        shutil.rmtree(self._home, ignore_errors=True)

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
    """This process's template, started (or restarted, if it died) on first use.

    A process forked from the grader (e.g. a ``ProcessPoolExecutor`` worker) gets its own.

    Args:
        timeouts: how long to wait for it (default :class:`~autograder.settings.Timeouts`).
        wait: wait until it is ready; ``False`` only launches it, so that the seconds it needs to
            import torch overlap with the grader's own start (see :func:`warm_template`).

    Raises:
        TemplateError: it could not be started.
    """
    global _shared
    with _shared_lock:
        if _shared is not None and _shared.owner != os.getpid():
            _shared.abandon()  # the parent's: leave it to the parent
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
    """Launch this process's template in the background, if it is not running (never raises)."""
    with contextlib.suppress(TemplateError, OSError):
        shared_template(wait=False)


def _close_shared() -> None:
    if _shared is not None and _shared.owner == os.getpid():
        _shared.close()


atexit.register(_close_shared)
