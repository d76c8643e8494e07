"""Linux specifics of the student process: namespaces, mounts, privileges and resource limits.

Called by :mod:`autograder.isolation.student` before any student code runs. Everything here needs
Linux; the namespace and mount parts need root (or, see issue notes, a user namespace).
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import sys
from dataclasses import replace

from autograder.isolation import userns
from autograder.isolation.protocol import SpawnConfig
from autograder.isolation.syscalls import (
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    PR_SET_NO_NEW_PRIVS,
    PR_SET_PDEATHSIG,
    check,
    libc,
    mount,
)

__all__ = [
    "close_inherited_fds",
    "die_with_parent",
    "drop_privileges",
    "enter_namespaces",
    "needed_paths",
    "set_limits",
]


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (``PR_SET_PDEATHSIG``)."""
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def enter_namespaces(
    config: SpawnConfig, cmd_fd: int, evt_fd: int, protections: dict[str, str]
) -> SpawnConfig:
    """Namespaces and mounts: as root directly, as an ordinary user through a user namespace
    (:mod:`autograder.isolation.userns`). Forks: returns only in the zygote.

    Returns:
        ``config``, with the process limit adjusted for a user namespace on old kernels.
    """
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET
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
    try:
        mount("none", "/", None, MS_REC | MS_PRIVATE, None)
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
        hidden = []
        for path in config.hide:
            if os.path.isdir(path):
                mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k,mode=000")
                hidden.append(path)
            elif os.path.exists(path):
                mount("/dev/null", path, None, MS_BIND, None)
                hidden.append(path)
        protections["hidden_paths"] = ", ".join(hidden) or "none"
    except OSError as exc:
        protections["hidden_paths"] = f"off ({exc})"
    try:
        stage = os.path.join(os.path.dirname(config.home), "stage")
        # as an ordinary user the student has the grader's uid: nothing to expose, confine() empties
        exposed = _expose(needed_paths(), stage) if not unprivileged else []
        if exposed:
            protections["private_parents"] = "emptied except " + ", ".join(exposed)
    except OSError as exc:
        protections["private_parents"] = f"not handled ({exc})"
    try:
        covered = _private_tmp(config)
        protections["private_tmp"] = ", ".join(covered) + f" (tmpfs, {config.limits.file_mb} MiB each)"
    except OSError as exc:
        protections["private_tmp"] = f"off ({exc})"
    if unprivileged:  # hide the grader's home, /run...; everything read-only but home, out and /tmp
        userns.confine(config, needed_paths(), protections)
    return config


def _private_tmp(config: SpawnConfig) -> list[str]:
    """Size-limited private tmpfs over /tmp, /var/tmp and /dev/shm, so writes cannot fill the disk.

    The sandbox folder's ``in`` and ``out`` (shared with the grader) are bind-mounted back through
    file descriptors opened before the tmpfs hides them; ``home`` is a fresh folder on the tmpfs.
    """
    home = config.home
    root = os.path.dirname(home)
    shared = {name: os.open(os.path.join(root, name), os.O_PATH | os.O_DIRECTORY) for name in ("in", "out")}
    # Python, the venv or the course checkout may themselves live under /tmp (a CI clone there):
    # keep them, with the mounts that hide parts of them (MS_REC), on top of the new tmpfs.
    needed = needed_paths()
    outer = [p for p in needed if not any(p != q and p.startswith(q + "/") for q in needed)]
    covered = []
    try:
        for tmp in ("/tmp", "/var/tmp", "/dev/shm"):
            if not os.path.isdir(tmp) or os.path.islink(tmp):
                continue
            keep = {p: os.open(p, os.O_PATH | os.O_DIRECTORY) for p in outer if p.startswith(tmp + "/")}
            size = config.limits.file_mb if tmp != "/dev/shm" else min(64, config.limits.file_mb)
            try:
                mount("tmpfs", tmp, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size}m,mode=1777")
                for path, fd in keep.items():
                    os.makedirs(path, mode=0o755, exist_ok=True)
                    mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC, None)
            finally:
                for fd in keep.values():
                    os.close(fd)
            covered.append(tmp)
            # The sandbox folder is hidden by the new tmpfs unless a kept path holds it (a checkout
            # under /tmp with TMPDIR inside it): then it is still the real folder, already complete
            # and private, and must not be recreated or opened up.
            if root.startswith(tmp.rstrip("/") + "/") and not os.path.isdir(root):
                for name, fd in shared.items():
                    path = os.path.join(root, name)
                    os.makedirs(path, mode=0o755, exist_ok=True)
                    mount(f"/proc/self/fd/{fd}", path, None, MS_BIND, None)
                os.makedirs(home, mode=0o700, exist_ok=True)
                if config.uid is not None:
                    os.chown(home, config.uid, config.uid)
                os.chmod(root, 0o755)
    finally:
        for fd in shared.values():
            os.close(fd)
    return covered


def needed_paths() -> list[str]:
    """What the student process must read: Python itself, site-packages, the course code."""
    paths = {sys.base_prefix, sys.prefix, *(p for p in sys.path if p and os.path.isdir(p))}
    import importlib.util

    for name in ("course_utils", "autograder"):
        spec = importlib.util.find_spec(name)
        if spec and spec.origin:
            paths.add(os.path.dirname(os.path.dirname(spec.origin)))
    return sorted(os.path.realpath(p) for p in paths)


def _private_ancestor(path: str) -> str | None:
    """The highest folder above ``path`` that other users cannot enter (e.g. ``/root``)."""
    parts = path.strip("/").split("/")
    for i in range(1, len(parts)):
        ancestor = "/" + "/".join(parts[:i])
        if not os.stat(ancestor).st_mode & 0o001:
            return ancestor
    return None


def _expose(needed: list[str], stage: str) -> list[str]:
    """Make needed paths under private folders readable: an empty tmpfs over the private folder
    (hiding everything else in it, e.g. root's home) with only the needed paths bind-mounted back."""
    groups: dict[str, list[str]] = {}
    for path in needed:
        ancestor = _private_ancestor(path)
        if ancestor:
            groups.setdefault(ancestor, []).append(path)
    exposed = []
    for n, (ancestor, paths) in enumerate(sorted(groups.items())):
        # keep only outermost paths (a path inside another needed one comes along with it)
        outer = [p for p in paths if not any(p != q and p.startswith(q + "/") for q in paths)]
        staged = []
        for i, path in enumerate(outer):
            target = os.path.join(stage, f"{n}-{i}")
            os.makedirs(target, exist_ok=True)
            mount(path, target, None, MS_BIND | MS_REC, None)
            staged.append((target, path))
        mount("tmpfs", ancestor, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=755")
        for target, path in staged:
            os.makedirs(path, mode=0o755, exist_ok=True)
            mount(target, path, None, MS_BIND | MS_REC, None)
            libc.umount2(target.encode(), 2)  # MNT_DETACH
            exposed.append(path)
        mount("none", ancestor, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, None)
    return exposed


def drop_privileges(uid: int, protections: dict[str, str]) -> None:
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
