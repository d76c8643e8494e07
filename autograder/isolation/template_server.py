"""The template processes: the *origin*, forked from the grader, and one *template* per grader process.

Starting a student process from nothing costs seconds (Python, torch, timm, the course modules, the
model) and a whole torch process's worth of memory. Instead, the grader process itself imports what
the notebooks import and loads the model (:func:`warm_up`), and **before it reads any reference file
or submission** forks the origin (:func:`start_origin`). The origin forks one template per grader
process on request (the batch's workers each get their own), and each template forks one student
process per notebook (:func:`autograder.isolation.student.student_process`). Every one of these
processes shares the imported modules and the model's pages with the grader copy-on-write, so one
torch process's worth of memory serves the grader, its templates and every student process.

What the origin does before anything else, because it starts as a copy of the grader: it dies with
the grader (parent-death signal), leads its own session, closes every file descriptor but its
socket, puts ``/dev/null`` on stdio, and wipes the grader's environment and command line from its
memory (:func:`forget_grader`): the environment block, the C ``environ`` strings and Python's copy,
so student code cannot read them from its own memory either. It and the templates **never run
student code** and never load references.

The grader talks to the origin and to its template over Unix ``SOCK_SEQPACKET`` sockets with typed
messages (:mod:`autograder.isolation.protocol`); file descriptors travel with ``SCM_RIGHTS``: a
:class:`TemplateRequest` carries the new template's socket, a :class:`SpawnRequest` the student
process's two pipes. The client side is :mod:`autograder.isolation.template_client`.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import signal
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
    TemplateReady,
    TemplateRequest,
    WaitReply,
    WaitRequest,
    decode,
    encode,
)
from autograder.isolation.student import EXIT_INTERNAL, Warm, student_process
from autograder.isolation.syscalls import PR_SET_NAME, libc

__all__ = [
    "ORIGIN_LABEL",
    "TEMPLATE_LABEL",
    "forget_grader",
    "isolated_sys_path",
    "start_origin",
    "warm_up",
]

#: Largest request a template reads (a spawn config with its hidden paths and environment).
MAX_REQUEST_BYTES = 1 << 20
#: The command line (``/proc/PID/cmdline``) of the origin and of each template (and so of every
#: student process), followed by the grader's temporary folder: it tells which run a process
#: belongs to (the tests find leftover processes by it) and reveals nothing else of the grader.
ORIGIN_LABEL = "autograder-template-origin"
TEMPLATE_LABEL = "autograder-template"


def warm_up() -> Warm:
    """Import what the notebooks import and load the model, in this (the grader's) process.

    One thread for torch (every process forked from here grades one call at a time), the Agg
    backend for matplotlib.

    Returns:
        ``(skeleton, pristine)``: the course model and a copy of its weights, from which every call
        builds a fresh model.
    """
    import importlib
    import pkgutil

    import torch

    torch.set_num_threads(1)
    with contextlib.suppress(RuntimeError):  # already set, or inter-op work already ran
        torch.set_num_interop_threads(1)
    import matplotlib

    matplotlib.use("Agg")
    import course_utils

    for module in ("numpy", "matplotlib.pyplot", "autograder.runner"):
        importlib.import_module(module)
    for info in pkgutil.iter_modules(course_utils.__path__):  # the course modules students import
        importlib.import_module(f"course_utils.{info.name}")
    from autograder.runner import course_model

    skeleton = course_model()  # the grader's own copy too (checks that judge by property use it)
    pristine = {k: v.clone() for k, v in skeleton.state_dict().items()}
    return skeleton, pristine


def _proc_stat_addresses() -> tuple[int, int, int, int]:
    """``(arg_start, arg_end, env_start, env_end)`` of this process, from ``/proc/self/stat``."""
    with open("/proc/self/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    # fields[0] is field 3 (state); arg_start is field 48 (proc(5))
    return int(fields[45]), int(fields[46]), int(fields[47]), int(fields[48])


def _label(text: str) -> None:
    """Name this process ``text`` in ``/proc/PID/comm`` (its start) and ``/proc/PID/cmdline`` (as
    much as fits in the grader's command line)."""
    libc.prctl(PR_SET_NAME, text.encode()[:15], 0, 0, 0)
    arg_start, arg_end, _, _ = _proc_stat_addresses()
    if arg_end > arg_start:
        data = text.encode()[: arg_end - arg_start - 1]
        ctypes.memset(arg_start, 0, arg_end - arg_start)
        ctypes.memmove(arg_start, data, len(data))


def isolated_sys_path() -> list[str]:
    """``sys.path`` as ``python -I`` has it here: no current folder, no ``PYTHONPATH``, no user site.

    Measured once by running ``python -I`` (about 30 ms); the origin takes it, so that no student
    process imports from, or exposes (:func:`autograder.isolation.linux.needed_paths`), the folder
    the grader was started in.
    """
    import json
    import subprocess

    out = subprocess.run(
        [sys.executable, "-I", "-c", "import json, sys; print(json.dumps(sys.path))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
    ).stdout
    return [str(p) for p in json.loads(out)]


#: Python's warning filters at start (``python -I`` without ``-W``), restored in the origin.
_DEFAULT_WARNING_FILTERS = (
    ("default", DeprecationWarning, "__main__"),
    ("ignore", DeprecationWarning, None),
    ("ignore", PendingDeprecationWarning, None),
    ("ignore", ImportWarning, None),
    ("ignore", ResourceWarning, None),
)


def forget_grader(env: dict[str, str], path: list[str]) -> None:
    """Make this forked copy of the grader look like a fresh ``python -I`` with environment ``env``.

    Wipes the grader's environment and command line from memory: the strings the C ``environ``
    array points to (the initial block on the stack, and any the grader set later), the initial
    block itself, Python's byte copies of the values (``posix.environ``) and the command line. Then
    resets what a fresh interpreter would not have inherited: ``sys.path`` (``path``, from
    :func:`isolated_sys_path`), standard streams, warning filters, signal handlers, the cached
    temporary folder, fault handler.
    """
    import faulthandler
    import posix
    import tempfile
    import warnings

    arg_start, arg_end, env_start, env_end = _proc_stat_addresses()
    environ = ctypes.c_void_p.in_dll(libc, "environ").value  # char **environ
    if environ:  # each "NAME=value" string, measured in C: no Python copy of it is made
        strings = ctypes.cast(environ, ctypes.POINTER(ctypes.c_void_p))
        i = 0
        while strings[i]:
            ctypes.memset(strings[i], 0, libc.strlen(ctypes.c_void_p(strings[i])))
            i += 1
    offset = bytes.__basicsize__ - 1  # where a bytes object's characters start
    for value in posix.environ.values():
        if len(value) > 1:  # shorter ones may be interpreter-wide singletons, and are no secret
            ctypes.memset(id(value) + offset, 0, len(value))
    posix.environ.clear()  # os.environ reads through it
    libc.clearenv()
    for start, end in ((env_start, env_end), (arg_start, arg_end)):
        if end > start:
            ctypes.memset(start, 0, end - start)
    sys.argv[:] = [ORIGIN_LABEL]
    sys.orig_argv[:] = [ORIGIN_LABEL]
    tempfile.tempdir = None  # computed again from TMPDIR
    os.environ.update(env)
    sys.path[:] = path
    sys.path_importer_cache.clear()
    sys.dont_write_bytecode = True
    faulthandler.disable()
    for stream in ("stdin", "stdout", "stderr"):
        original = getattr(sys, f"__{stream}__")
        if original is not None:
            setattr(sys, stream, original)
    warnings.resetwarnings()
    for action, category, module in reversed(_DEFAULT_WARNING_FILTERS):
        warnings.filterwarnings(action, category=category, module=module or "")
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for number in (signal.SIGTERM, signal.SIGHUP, signal.SIGALRM, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(number, signal.SIG_DFL)


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
    template_pid = os.getpid()
    try:
        pid = os.fork()
    except OSError as exc:
        pid = -1
        _reply(control, SpawnFailed(error=str(exc)))
    if pid == 0:
        try:
            control.close()
            # Short of memory, the kernel kills student code first, never the grader or a template.
            with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as f:
                f.write("1000")
            student_process(request.config, fds[0], fds[1], warm, template_pid)
        finally:
            os._exit(EXIT_INTERNAL)
    for fd in fds:
        os.close(fd)
    if pid > 0:
        _reply(control, Spawned(pid=pid))


def _serve_template(control: socket.socket, warm: Warm) -> None:
    """A template's loop: fork student processes and reap them when the grader asks. Never returns."""
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


def _become_template(
    origin: socket.socket, control: socket.socket, warm: Warm, origin_pid: int, where: str
) -> None:
    """Body of a template, forked by the origin: never returns."""
    started = time.perf_counter()
    linux.die_with_parent()  # with the origin, and so with the grader
    if os.getppid() != origin_pid:
        os._exit(1)
    origin.close()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the origin ignores it; a template reaps its children
    _label(f"{TEMPLATE_LABEL} {where}")
    _reply(control, TemplateReady(seconds=time.perf_counter() - started, pid=os.getpid()))
    _serve_template(control, warm)


def _serve_origin(origin: socket.socket, warm: Warm, where: str) -> None:
    """The origin's loop: fork a template for each :class:`TemplateRequest`. Never returns.

    Nothing is answered on the origin's socket (every grader process may send on it); the new
    template answers on its own socket.
    """
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # templates are reaped by the kernel
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(origin, MAX_REQUEST_BYTES, 1)
        except OSError:
            os._exit(0)
        if not data:  # every grader process closed its end
            os._exit(0)
        request = decode(data, TemplateRequest, StopRequest)
        if isinstance(request, StopRequest):
            os._exit(0)
        if not isinstance(request, TemplateRequest) or len(fds) != 1:
            for fd in fds:
                os.close(fd)
            continue
        control = socket.socket(fileno=fds[0])
        origin_pid = os.getpid()
        try:
            pid = os.fork()
        except OSError:
            pid = -1  # the client sees its socket close without a TemplateReady
        if pid == 0:
            try:
                _become_template(origin, control, warm, origin_pid, where)
            finally:
                os._exit(EXIT_INTERNAL)
        control.close()


def _become_origin(
    origin: socket.socket, warm: Warm, grader_pid: int, env: dict[str, str], path: list[str]
) -> None:
    """Body of the origin, forked from the grader: never returns."""
    import tempfile

    where = tempfile.gettempdir()  # the grader's, named in the command lines
    linux.die_with_parent()  # the grader may be killed at any moment; everything below dies with us
    if os.getppid() != grader_pid:
        os._exit(1)
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    linux.close_inherited_fds({origin.fileno()})
    forget_grader(env, path)
    os.chdir("/")
    _label(f"{ORIGIN_LABEL} {where}")
    _serve_origin(origin, warm, where)


def start_origin(warm: Warm, env: dict[str, str], path: list[str]) -> tuple[int, socket.socket]:
    """Fork the origin from this process; call it before reading anything student code must not see.

    Args:
        warm: from :func:`warm_up`, in this process.
        env: the origin's (and so every template's) whole environment.
        path: the origin's ``sys.path`` (:func:`isolated_sys_path`).

    Returns:
        ``(pid, socket)``: the origin's pid and this side of its socket, on which
        :class:`TemplateRequest` messages ask for a template.
    """
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    # Objects that exist now are never collected again, here or in any fork: collections would write
    # to every object's header and so copy the shared pages into each process.
    gc.collect()
    gc.freeze()
    sys.stdout.flush()
    sys.stderr.flush()
    grader_pid = os.getpid()
    pid = os.fork()
    if pid == 0:
        try:
            ours.close()
            _become_origin(theirs, warm, grader_pid, env, path)
        finally:
            os._exit(EXIT_INTERNAL)
    theirs.close()
    return pid, ours
