"""Linux specifics of the student process: namespaces, privileges and resource limits.

Called by :mod:`autograder.isolation.student` before any student code runs. Everything here needs
Linux; the namespaces need root or a user namespace (:mod:`autograder.isolation.userns`); the file
system the student sees is :mod:`autograder.isolation.mounts`' default-deny view.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
from dataclasses import replace

from autograder.isolation import mounts, userns
from autograder.isolation.protocol import SpawnConfig
from autograder.isolation.syscalls import (
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    PR_SET_NO_NEW_PRIVS,
    PR_SET_PDEATHSIG,
    check,
    libc,
)

__all__ = [
    "close_inherited_fds",
    "die_with_parent",
    "drop_privileges",
    "enter_namespaces",
    "set_limits",
]


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (``PR_SET_PDEATHSIG``)."""
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def enter_namespaces(
    config: SpawnConfig, cmd_fd: int, evt_fd: int, protections: dict[str, str]
) -> SpawnConfig:
    """Namespaces and the default-deny view: as root directly, as an ordinary user through a user
    namespace (:mod:`autograder.isolation.userns`). Forks: returns only in the zygote.

    The mount, PID, network and IPC namespaces are new (System V shared memory, semaphores and
    message queues of the host are out of reach, and none the student creates outlives it); the
    zygote then makes the view its root (:func:`autograder.isolation.mounts.enter_view`). When that
    fails, ``protections["view"]`` says ``off`` and the caller must not run student code.

    Returns:
        ``config``, with the process limit adjusted for a user namespace on old kernels.
    """
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC
    unprivileged = os.geteuid() != 0
    try:
        if unprivileged:
            uid = os.getuid()
            limit = userns.process_limit(config.limits.max_processes)
            config = replace(config, limits=replace(config.limits, max_processes=limit))
            userns.enter(flags)
            protections["user_namespace"] = f"on (the grader's uid {uid} mapped to 0, no other uid)"
        else:
            check(libc.unshare(flags), "unshare")
    except OSError as exc:
        protections["namespaces"] = f"off ({exc})"
        return config
    pid = os.fork()
    if pid:  # the guard: wait for the zygote, exit with its status
        for fd in (cmd_fd, evt_fd):
            os.close(fd)
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            status = 0
        os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
    die_with_parent()
    protections["pid_namespace"] = "on"
    protections["network"] = "off (empty network namespace)"
    protections["ipc_namespace"] = "on (no System V or POSIX IPC shared with the host)"
    if unprivileged:
        userns.forbid_nested(protections)
    try:
        mounts.enter_view(config, protections)
    except OSError as exc:
        protections["view"] = f"off ({exc})"
    return config


def drop_privileges(uid: int, protections: dict[str, str]) -> None:
    """As root: become ``uid`` (no groups) for good, with ``no_new_privs``."""
    try:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        protections["uid"] = f"dropped to uid {uid}"
    except OSError as exc:
        protections["uid"] = f"not dropped ({exc})"
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0:
        protections["no_new_privs"] = "on"


def set_limits(config: SpawnConfig, protections: dict[str, str]) -> None:
    """Memory (address space), largest file, processes and no core dumps, from ``config.limits``."""
    memory = config.limits.memory_mb * 1024 * 1024
    file_cap = config.limits.file_mb * 1024 * 1024
    for name, value in (
        ("RLIMIT_AS", memory),
        ("RLIMIT_FSIZE", file_cap),
        ("RLIMIT_NPROC", config.limits.max_processes),
        ("RLIMIT_CORE", 0),
    ):
        try:
            resource.setrlimit(getattr(resource, name), (value, value))
            protections[name] = str(value)
        except (OSError, ValueError) as exc:
            protections[name] = f"not set ({exc})"


def close_inherited_fds(keep: set[int]) -> None:
    """Close every file descriptor but stdio and ``keep``: the student inherits nothing of the template."""
    for entry in os.listdir("/proc/self/fd") if os.path.isdir("/proc/self/fd") else ():
        fd = int(entry)
        if fd > 2 and fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)
