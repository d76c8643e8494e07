"""Isolation without root: the student process in its own Linux user namespace (issue 10 §2, 16 §6).

As root, :mod:`autograder.worker` unshares mount, PID and network namespaces and drops to a leased
uid. An ordinary user gets the same namespaces by creating a *user namespace* first
(``unshare(CLONE_NEWUSER | ...)``, enabled on stock Debian/Ubuntu/Fedora kernels): inside it the
process is uid 0 with every capability *over the namespaces it owns*, so it can mount tmpfs and
bind mounts in its private mount namespace, but on files it still acts as the grader's own uid
(the only uid mapped) and it cannot become another real uid. What this module adds, on top of the
root mode's steps that the worker runs unchanged (fresh ``/proc``, hidden paths, private ``/tmp``):

* :func:`enter`: the user namespace (a uid/gid map of the caller, ``setgroups`` denied) together
  with the mount, PID, network and IPC namespaces, in one ``unshare``.
* :func:`confine`, in the zygote before any student code runs: because the student shares the
  grader's uid, the grader's files are protected by hiding them and by making the whole file
  system read-only: the grader's home, ``/run`` (D-Bus, systemd, docker sockets), terminals
  (``/dev/pts``) and sibling sandbox folders are replaced by empty tmpfs mounts showing only what the
  student process needs (Python, site-packages, the course code, its own sandbox folder); every mount
  is then made read-only except the private ``/tmp`` mounts, the sandbox's ``home`` and ``out``;
  nested user namespaces are switched off (``user.max_user_namespaces = 0`` in this namespace).
* :func:`drop_capabilities`: no capabilities at all (bounding, ambient, effective, permitted,
  inheritable), securebits locked so that executing a program as uid 0 gives none back, and
  ``no_new_privs``. Without ``CAP_SYS_ADMIN`` the student cannot unmount what hides the references;
  in any user namespace it could create, inherited mounts are locked by the kernel.

Fork bombs: since Linux 5.14 ``RLIMIT_NPROC`` counts processes per user *namespace*, so the limit
set in the student process bounds the student's own processes, not the grader's (see
:func:`process_limit` for older kernels). After every call the zygote (PID 1 of its namespace) kills
every other process in it, so nothing the call started survives it, even a process that made
itself undumpable so that the grader cannot inspect it.

:func:`probe` tells the grader, before a batch, which isolation this machine offers; see
:func:`autograder.grading.grade_path` for the refusal when there is none.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import pwd
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "NO_ISOLATION_ENV",
    "Isolation",
    "confine",
    "drop_capabilities",
    "enter",
    "isolation_of",
    "kill_namespace",
    "probe",
    "process_limit",
]

#: Tests only: set to ``1`` to make :func:`probe` report that no isolation is available, as on a
#: machine with namespaces disabled (the refusal path of the batch grader is tested with it).
NO_ISOLATION_ENV = "AUTOGRADER_TEST_NO_ISOLATION"

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_REMOUNT = 32
MS_BIND = 0x1000
MS_REC = 0x4000
MOUNT_ATTR_RDONLY = 0x1
AT_FDCWD = -100
AT_RECURSIVE = 0x8000
SYS_MOUNT_SETATTR = 442  # the same number on every architecture (new-style syscall table)
PR_SET_SECUREBITS = 28
PR_CAPBSET_DROP = 24
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
PR_SET_NO_NEW_PRIVS = 38
PR_SET_PDEATHSIG = 1
#: NOROOT, NO_SETUID_FIXUP, KEEP_CAPS and NO_CAP_AMBIENT_RAISE, each with its lock bit.
SECUREBITS_LOCKED = 0b11101111
_CAPABILITY_VERSION_3 = 0x20080522

_libc = ctypes.CDLL(None, use_errno=True)


def _check(ret: int, what: str) -> None:
    if ret != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(
        _libc.mount(
            source.encode(),
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def _set_read_only(path: str, read_only: bool, recursive: bool) -> None:
    """``mount_setattr(2)`` (Linux 5.12+): add or clear ``MOUNT_ATTR_RDONLY`` on a mount (tree)."""
    attr = _MountAttr(MOUNT_ATTR_RDONLY if read_only else 0, 0 if read_only else MOUNT_ATTR_RDONLY, 0, 0)
    flags = AT_RECURSIVE if recursive else 0
    ret = _libc.syscall(
        SYS_MOUNT_SETATTR, AT_FDCWD, path.encode(), flags, ctypes.byref(attr), ctypes.sizeof(attr)
    )
    _check(ret, f"mount_setattr {path}")


# ------------------------------------------------------------------------------- entering
def enter(flags: int) -> None:
    """Unshare a user namespace with ``flags`` (mount, PID, network...) and map the caller into it.

    The caller becomes uid/gid 0 of the new namespace, mapped to its own uid/gid outside (the only
    ids mapped); ``setgroups`` is denied, as the kernel requires for an unprivileged gid map. The
    IPC namespace is unshared too (System V shared memory of the grader's desktop, e.g. X11's, is
    readable by its uid). The caller must be single-threaded (a fresh ``fork()`` is).

    Raises:
        OSError: user namespaces are unavailable (disabled, restricted by AppArmor or seccomp...).
    """
    uid, gid = os.getuid(), os.getgid()
    _check(_libc.unshare(CLONE_NEWUSER | CLONE_NEWIPC | flags), "unshare(CLONE_NEWUSER)")
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
def _covered(path: str, folders: Sequence[str]) -> bool:
    return any(path == f or path.startswith(f.rstrip("/") + "/") for f in folders)


def _empty_except(folder: str, keep: Sequence[str]) -> list[str]:
    """Mount an empty tmpfs over ``folder``, with the folders of ``keep`` inside it bound back.

    Each kept folder comes back with the mounts under it (``MS_REC``), so what was hidden inside
    stays hidden. Returns the folders kept.
    """
    inside = sorted({p for p in keep if _covered(p, [folder]) and p != folder and os.path.isdir(p)})
    outer = [p for p in inside if not any(p != q and p.startswith(q + "/") for q in inside)]
    fds = {p: os.open(p, os.O_PATH | os.O_DIRECTORY) for p in outer}
    try:
        _mount("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=755")
        for path, fd in fds.items():
            os.makedirs(path, mode=0o755, exist_ok=True)
            _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
    finally:
        for fd in fds.values():
            os.close(fd)
    return outer


def _outer_uid() -> int:
    """The uid outside this user namespace that namespace uid 0 maps to (the grader's)."""
    with open("/proc/self/uid_map") as f:
        inside, outside, _ = f.readline().split()
    return int(outside) if inside == "0" else os.getuid()


def _grader_home() -> str | None:
    try:
        home = pwd.getpwuid(_outer_uid()).pw_dir
    except (KeyError, OSError, ValueError):
        return None
    return os.path.realpath(home) if home and home != "/" and os.path.isdir(home) else None


def confine(config: dict[str, Any], needed: Sequence[str], protections: dict[str, str]) -> None:
    """Protect the grader's files from a student that shares its uid (in the zygote, as namespace root).

    Runs after the worker's root-mode mounts (fresh ``/proc``, hidden paths, private ``/tmp``).

    Args:
        config: the student process's config: ``home`` (its home folder, inside the sandbox folder)
            and ``grader_home`` (the grader's ``$HOME``, emptied like its home in the passwd file).
        needed: folders the student process must read (Python, site-packages, the course code).
        protections: updated with what was done (``"emptied"``, ``"read_only"``, ``"nested_userns"``).
    """
    home = config["home"]
    sandbox = os.path.dirname(home)
    tmp_dirs = [t for t in ("/tmp", "/var/tmp", "/dev/shm") if t in protections.get("private_tmp", "")]
    keep = [*needed, sandbox]
    folders = [_grader_home(), config.get("grader_home"), "/run", "/var/run", "/dev/pts"]
    if not _covered(sandbox, tmp_dirs):  # other sandboxes' folders (a classmate's code) beside ours
        folders.append(os.path.dirname(sandbox))
    emptied = []
    try:
        for folder in dict.fromkeys(os.path.realpath(f) for f in folders if f and not os.path.islink(f)):
            if folder != "/" and os.path.isdir(folder) and not _covered(folder, tmp_dirs):
                _empty_except(folder, keep)
                emptied.append(folder)
        protections["emptied"] = ", ".join(emptied) + " (empty tmpfs, only what the student needs inside)"
    except OSError as exc:
        protections["emptied"] = f"not done ({exc})"
    try:
        with open("/proc/sys/user/max_user_namespaces", "w") as f:
            f.write("0")
        protections["nested_userns"] = "off (user.max_user_namespaces = 0)"
    except OSError as exc:
        protections["nested_userns"] = f"allowed ({exc})"
    try:
        writable = [*tmp_dirs]
        for path in (os.path.join(sandbox, "out"), home):
            _mount(path, path, None, MS_BIND)  # its own mount, so that it alone can stay writable
            writable.append(path)
        _set_read_only("/", True, recursive=True)
        for path in writable:
            _set_read_only(path, False, recursive=False)
        protections["read_only"] = "every mount except " + ", ".join(writable)
    except OSError as exc:
        protections["read_only"] = f"off ({exc})"


#: ``keyctl(2)`` by architecture (glibc has no wrapper).
_SYS_KEYCTL = {"x86_64": 250, "aarch64": 219}
KEYCTL_JOIN_SESSION_KEYRING = 1


def _leave_session_keyring(protections: dict[str, str]) -> None:
    """Join a new anonymous session keyring: the grader's (and any key it holds) is no longer possessed."""
    number = _SYS_KEYCTL.get(platform.machine())
    if number is None:
        protections["session_keyring"] = f"inherited (keyctl unknown on {platform.machine()})"
    elif _libc.syscall(number, KEYCTL_JOIN_SESSION_KEYRING, None) < 0:
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
            _check(_libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), f"drop capability {cap}")
        _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
        _check(_libc.prctl(PR_SET_SECUREBITS, SECUREBITS_LOCKED, 0, 0, 0), "securebits")
        header = (ctypes.c_uint32 * 2)(_CAPABILITY_VERSION_3, 0)
        data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable (x2): all zero
        _check(_libc.capset(header, data), "capset")
        protections["capabilities"] = "none (bounding set empty, securebits locked)"
    except OSError as exc:
        protections["capabilities"] = f"not dropped ({exc})"
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0:
        protections["no_new_privs"] = "on"
    # Changing credentials may clear the parent-death signal: die with the guard, as before.
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def kill_namespace() -> None:
    """In the zygote (PID 1 of its namespace): kill every other process in the namespace.

    ``kill(-1)`` from a namespace's PID 1 reaches exactly the processes of that namespace; outside a
    PID namespace it would reach every process of the uid, so it is never sent there.
    """
    if os.getpid() == 1:
        with contextlib.suppress(OSError):  # nothing left to kill
            os.kill(-1, signal.SIGKILL)


# --------------------------------------------------------------------------------- probing
@dataclass(frozen=True)
class Isolation:
    """What isolation of student code this machine offers (see :func:`probe`).

    Attributes:
        kind: ``"root"`` (namespaces and a leased uid), ``"user namespace"`` (namespaces as an
            ordinary user) or ``"none"``.
        reason: why there is none (empty otherwise), with how to fix it.
    """

    kind: str
    reason: str = ""

    @property
    def available(self) -> bool:
        """Is student code isolated (namespaces, hidden paths, no network)?"""
        return self.kind != "none"


_PROBE = """
import ctypes, os, sys
sys.path[:0] = [{path!r}]
from autograder import userns
flags = userns.CLONE_NEWNS | userns.CLONE_NEWPID | userns.CLONE_NEWNET
if os.geteuid() == 0:
    userns._check(userns._libc.unshare(flags), "unshare")
else:
    userns.enter(flags)
pid = os.fork()
if pid == 0:
    userns._mount("none", "/", None, userns.MS_REC | (1 << 18))
    userns._mount("proc", "/proc", "proc", userns.MS_NOSUID | userns.MS_NODEV | 8)
    userns._mount("tmpfs", "/tmp", "tmpfs", userns.MS_NOSUID | userns.MS_NODEV, "size=4k")
    os._exit(0)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def probe() -> Isolation:
    """Find out, in a throw-away process (about 0.1 s of CPU), whether student code can be isolated.

    Tries what the student process will do: unshare the namespaces (with a user namespace when not
    root), then mount a fresh ``/proc`` and a tmpfs in them.
    """
    fix = (
        "grade as root in a container or VM, or enable unprivileged user namespaces "
        "(Debian/Ubuntu: `sudo sysctl -w kernel.unprivileged_userns_clone=1`; Ubuntu 24.04+: "
        "`sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`; any distribution: "
        "`user.max_user_namespaces` above 0; in Docker: `--security-opt seccomp=unconfined` or "
        "`--privileged`)"
    )
    if os.environ.get(NO_ISOLATION_ENV) == "1":
        return Isolation(
            "none", f"{NO_ISOLATION_ENV}=1 simulates a machine without namespaces (tests); {fix}"
        )
    if not sys.platform.startswith("linux"):
        return Isolation(
            "none", f"namespaces need Linux, this is {sys.platform}; grade in a Linux VM or container"
        )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-S", "-c", _PROBE.format(path=root)],  # -S: no site (faster)
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Isolation("none", f"the namespace probe could not run ({exc}); {fix}")
    if done.returncode != 0:
        lines = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        return Isolation("none", f"namespaces are not available here ({lines}); {fix}")
    return Isolation("root" if os.geteuid() == 0 else "user namespace")


def isolation_of(protections: dict[str, str]) -> str:
    """The isolation a student process reported (its ``protections``): as in :attr:`Isolation.kind`."""
    if protections.get("pid_namespace") != "on":
        return "none"
    return "user namespace" if "user_namespace" in protections else "root"
