"""Isolation without root: the student process in its own Linux user namespace (issue 10 §2, 16 §6).

As root, :mod:`autograder.isolation.linux` unshares mount, PID and network namespaces and drops to a leased
uid. An ordinary user gets the same namespaces by creating a *user namespace* first
(``unshare(CLONE_NEWUSER | ...)``, enabled on stock Debian/Ubuntu/Fedora kernels): inside it the
process is uid 0 with every capability *over the namespaces it owns*, so it can mount tmpfs and
bind mounts in its private mount namespace, but on files it still acts as the grader's own uid
(the only uid mapped) and it cannot become another real uid. The default-deny view
(:mod:`autograder.isolation.mounts`) is built the same way in both modes: the student sees only
Python, the packages, the course code and its own folders, every mount read-only but its own
temporary folders, home and ``out/``. What this module adds:

* :func:`enter`: the user namespace (a uid/gid map of the caller, ``setgroups`` denied) together
  with the mount, PID, network and IPC namespaces, in one ``unshare``.
* :func:`forbid_nested`: nested user namespaces switched off (``user.max_user_namespaces = 0`` in
  this namespace).
* :func:`drop_capabilities`: no capabilities at all (bounding, ambient, effective, permitted,
  inheritable), securebits locked so that executing a program as uid 0 gives none back, and
  ``no_new_privs``. Without ``CAP_SYS_ADMIN`` the student cannot unmount what hides the references;
  in any user namespace it could create, inherited mounts are locked by the kernel.

Fork bombs: since Linux 5.14 ``RLIMIT_NPROC`` counts processes per user *namespace*, so the limit
set in the student process bounds the student's own processes, not the grader's (see
:func:`process_limit` for older kernels). After every call the zygote (PID 1 of its namespace) kills
every other process in it, so nothing the call started survives it, even a process that made
itself undumpable so that the grader cannot inspect it.

:func:`autograder.isolation.availability.probe` tells the grader, before a batch, which isolation this
machine offers, and refuses hidden grading where there is none.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import signal

from autograder.isolation.syscalls import (
    CAPABILITY_VERSION_3,
    CLONE_NEWUSER,
    PR_CAP_AMBIENT,
    PR_CAP_AMBIENT_CLEAR_ALL,
    PR_CAPBSET_DROP,
    PR_SET_NO_NEW_PRIVS,
    PR_SET_PDEATHSIG,
    PR_SET_SECUREBITS,
    SECUREBITS_LOCKED,
    check,
    libc,
)

__all__ = ["drop_capabilities", "enter", "forbid_nested", "kill_namespace", "process_limit"]


# ------------------------------------------------------------------------------- entering
def enter(flags: int) -> None:
    """Unshare a user namespace with ``flags`` (mount, PID, network...) and map the caller into it.

    The caller becomes uid/gid 0 of the new namespace, mapped to its own uid/gid outside (the only
    ids mapped); ``setgroups`` is denied, as the kernel requires for an unprivileged gid map. The
    caller passes the IPC namespace in ``flags`` (System V shared memory of the grader's desktop,
    e.g. X11's, is readable by its uid). The caller must be single-threaded (a fresh ``fork()`` is).

    Raises:
        OSError: user namespaces are unavailable (disabled, restricted by AppArmor or seccomp...).
    """
    uid, gid = os.getuid(), os.getgid()
    check(libc.unshare(CLONE_NEWUSER | flags), "unshare(CLONE_NEWUSER)")
    for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)


def process_limit(max_processes: int) -> int:
    """``RLIMIT_NPROC`` that gives the student ``max_processes`` processes inside its user namespace.

    From Linux 5.14 the limit counts the processes of the uid *in the namespace* (the student's
    alone). Older kernels count every process of the real uid, the grader's included, so the
    grader's current count is added (measured before entering the namespace). Call before
    :func:`enter`.
    """
    release = tuple(int(p) for p in platform.release().split("-")[0].split(".")[:2] if p.isdigit())
    if release >= (5, 14):
        return max_processes
    uid = str(os.getuid())
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/status") as f:
                    status = dict(line.split(":", 1) for line in f if ":" in line)
                if status.get("Uid", "").split()[:1] == [uid]:
                    count += int(status.get("Threads", "1"))
            except (OSError, ValueError):
                continue
    return max_processes + count


# ------------------------------------------------------------------------------ confining
def forbid_nested(protections: dict[str, str]) -> None:
    """No user namespace inside this one (``user.max_user_namespaces = 0`` here), so the student can
    never be "root" in a namespace of its own making; call before the view makes ``/proc`` read-only."""
    try:
        with open("/proc/sys/user/max_user_namespaces", "w") as f:
            f.write("0")
        protections["nested_userns"] = "off (user.max_user_namespaces = 0)"
    except OSError as exc:
        protections["nested_userns"] = f"allowed ({exc})"


#: ``keyctl(2)`` by architecture (glibc has no wrapper).
_SYS_KEYCTL = {"x86_64": 250, "aarch64": 219}
KEYCTL_JOIN_SESSION_KEYRING = 1


def _leave_session_keyring(protections: dict[str, str]) -> None:
    """Join a new anonymous session keyring: the grader's (and any key it holds) is no longer possessed."""
    number = _SYS_KEYCTL.get(platform.machine())
    if number is None:
        protections["session_keyring"] = f"inherited (keyctl unknown on {platform.machine()})"
    elif libc.syscall(number, KEYCTL_JOIN_SESSION_KEYRING, None) < 0:
        protections["session_keyring"] = f"inherited ({os.strerror(ctypes.get_errno())})"
    else:
        protections["session_keyring"] = "new, empty"


def drop_capabilities(protections: dict[str, str]) -> None:
    """Give up every capability for good, before any student code runs (namespace root keeps none).

    Clears the bounding and ambient sets, locks the securebits (``execve`` as uid 0 grants nothing),
    zeroes the effective, permitted and inheritable sets and sets ``no_new_privs``. Also leaves the
    grader's session keyring.
    """
    _leave_session_keyring(protections)
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            last = int(f.read())
    except (OSError, ValueError):
        last = 63
    try:
        for cap in range(last + 1):
            check(libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), f"drop capability {cap}")
        libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
        check(libc.prctl(PR_SET_SECUREBITS, SECUREBITS_LOCKED, 0, 0, 0), "securebits")
        header = (ctypes.c_uint32 * 2)(CAPABILITY_VERSION_3, 0)
        data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable (x2): all zero
        check(libc.capset(header, data), "capset")
        protections["capabilities"] = "none (bounding set empty, securebits locked)"
    except OSError as exc:
        protections["capabilities"] = f"not dropped ({exc})"
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0:
        protections["no_new_privs"] = "on"
    # Changing credentials may clear the parent-death signal: die with the guard, as before.
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def kill_namespace() -> None:
    """In the zygote (PID 1 of its namespace): kill every other process in the namespace.

    ``kill(-1)`` from a namespace's PID 1 reaches exactly the processes of that namespace; outside a
    PID namespace it would reach every process of the uid, so it is never sent there.
    """
    if os.getpid() == 1:
        with contextlib.suppress(OSError):  # nothing left to kill
            os.kill(-1, signal.SIGKILL)
