"""The warm template process: ``python -I -m autograder.isolation.template_main CONFIG.json``.

Started once per grader process by :mod:`autograder.isolation.template_client`. It imports torch (one
thread), numpy, matplotlib and every ``course_utils`` module, loads the course model and keeps its
pristine weights. It **never runs student code**. For each notebook the grader sends a
:class:`~autograder.isolation.protocol.SpawnRequest` with two pipes attached; the template forks a
student process (:func:`autograder.isolation.student.student_process`), which starts from this warm
state in milliseconds instead of seconds, and reaps it when asked (:class:`WaitRequest`).
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import time

from autograder.isolation import linux
from autograder.isolation.protocol import (
    Message,
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
from autograder.isolation.student import EXIT_INTERNAL, Warm, student_process

__all__ = ["main"]

#: Largest request the template reads (a spawn config with its hidden paths and environment).
MAX_REQUEST_BYTES = 1 << 20


def _warm_up() -> Warm:
    """Import what the notebooks import and load the model: the template's one-time work.

    Returns:
        ``(skeleton, pristine)``: the course model and a copy of its weights, from which every call
        builds a fresh model.
    """
    import importlib
    import pkgutil

    import torch

    torch.set_num_threads(1)
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(1)
    import matplotlib

    matplotlib.use("Agg")
    import course_utils

    for module in ("numpy", "matplotlib.pyplot", "autograder.runner"):
        importlib.import_module(module)
    for info in pkgutil.iter_modules(course_utils.__path__):  # the course modules students import
        importlib.import_module(f"course_utils.{info.name}")
    from course_utils.models import load_model

    skeleton = load_model("cpu")
    pristine = {k: v.clone() for k, v in skeleton.state_dict().items()}
    return skeleton, pristine


def _reply(control: socket.socket, message: Message) -> None:
    control.send(encode(message))


def _wait_child(pid: int, timeout: float) -> WaitReply:
    """Reap child ``pid`` if it exits within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # not ours, or already reaped
            return WaitReply(exited=True)
        if done:
            return WaitReply(exited=True, status=status)
        if time.monotonic() >= deadline:
            return WaitReply(exited=False)
        time.sleep(0.005)


def _spawn(control: socket.socket, request: SpawnRequest, fds: list[int], warm: Warm) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    template_pid = os.getpid()
    try:
        pid = os.fork()
    except OSError as exc:
        pid = -1
        _reply(control, SpawnFailed(error=str(exc)))
    if pid == 0:
        try:
            control.close()
            student_process(request.config, fds[0], fds[1], warm, template_pid)
        finally:
            os._exit(EXIT_INTERNAL)
    for fd in fds:
        os.close(fd)
    if pid > 0:
        _reply(control, Spawned(pid=pid))


def _serve(control: socket.socket, warm: Warm) -> None:
    """The template's loop: fork student processes and reap them when the grader asks. Never returns."""
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(control, MAX_REQUEST_BYTES, 2)
        except OSError:
            os._exit(0)
        if not data:  # the grader closed its end
            os._exit(0)
        request = decode(data, SpawnRequest, WaitRequest, StopRequest)
        if isinstance(request, SpawnRequest) and len(fds) == 2:
            _spawn(control, request, fds, warm)
            continue
        for fd in fds:
            os.close(fd)
        if isinstance(request, WaitRequest):
            _reply(control, _wait_child(request.pid, request.timeout_s))
        elif isinstance(request, SpawnRequest):
            _reply(control, SpawnFailed(error=f"a spawn request needs 2 file descriptors, got {len(fds)}"))
        elif request is None:
            _reply(control, SpawnFailed(error="malformed request"))
        else:  # StopRequest
            os._exit(0)


def main(argv: list[str] | None = None) -> None:
    """Run the template described by the config file named in ``argv[0]`` (a :class:`TemplateConfig`)."""
    argv = sys.argv[1:] if argv is None else argv
    with open(argv[0], "rb") as f:
        config = decode(f.read(), TemplateConfig)
    if config is None:
        sys.exit(f"{argv[0]} is not a template config")
    started = time.perf_counter()
    # Die with the grader (it may be killed at any moment); the student processes die with us.
    linux.die_with_parent()
    if os.getppid() != config.grader_pid:
        os._exit(1)
    control = socket.socket(fileno=config.control_fd)
    control.set_inheritable(False)
    warm = _warm_up()
    _reply(control, TemplateReady(seconds=time.perf_counter() - started))
    _serve(control, warm)


if __name__ == "__main__":
    main()
