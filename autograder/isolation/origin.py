"""The grader's side of the origin: forked once, before the grader reads any secret; forks templates.

:func:`the_origin` forks it on first use (importing torch and loading the model here first, see
:mod:`autograder.isolation.template_server`) and hands it to every later caller; processes forked
from the grader (batch workers) inherit it and its socket. Once a process has read references
(:func:`seal`), no origin may be forked from it any more: if the origin is gone, :func:`the_origin`
raises a :class:`TemplateError` (a grader error: the submission is not graded and a rerun grades
it), never forks one from a copy of a process that holds references.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading

from autograder.isolation.protocol import StopRequest, TemplateRequest, encode
from autograder.isolation.watched import WatchedProcess
from autograder.settings import Timeouts

__all__ = ["Origin", "TemplateError", "close_origin", "seal", "template_env", "the_origin"]


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


class Origin:
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


_origin: Origin | None = None
_origin_owner = 0  # the process that forked it (only that one stops it)
_origin_error = ""  # why it could not be started
_sealed = False
_origin_lock = threading.Lock()


def seal() -> None:
    """Mark this process as holding what student code must never see (references, submissions).

    From now on no origin is forked from it
    (:func:`autograder.isolation.template_client.warm_template` must have run before). Processes
    forked from it later (batch workers) inherit the mark and the origin.
    """
    global _sealed
    _sealed = True


def _start_origin() -> Origin:
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
    return Origin(WatchedProcess(pid), sock)


def the_origin() -> Origin:
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
            _origin_owner, _origin_error = os.getpid(), ""
        return _origin


def close_origin() -> None:
    """Stop the origin if this process forked it (every template, and so every student process, dies
    with it); a forked copy of the grader leaves it to its owner."""
    global _origin
    if _origin is not None and _origin_owner == os.getpid():
        _origin.close()
        _origin = None
