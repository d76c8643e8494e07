"""Which isolation student code gets on this machine, and the refusal to grade hidden without any.

:func:`probe` runs once per batch, before anything is graded; :func:`check_isolation` turns "none"
into a refusal for hidden grading unless the instructor accepted the risk (``--allow-unisolated``).
Each student process also reports what it actually got (:func:`isolation_of` of its protections),
which every result records.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

from autograder.settings import NO_ISOLATION_ENV, PACKAGE_DIR

__all__ = ["Isolation", "UnisolatedError", "check_isolation", "isolation_of", "probe", "unisolated_message"]


class UnisolatedError(RuntimeError):
    """Grading with hidden references was refused: student code could not be isolated here."""


def unisolated_message(why: str) -> str:
    """Why hidden grading is refused, and the two ways out."""
    return (
        "refusing to grade with hidden references: student code would run without isolation, so it "
        "could read the hidden references, classmates' submissions and the network, and signal the "
        f"grader ({why}). Fix that, or pass --allow-unisolated to accept the risk: the gradebook and "
        "every feedback file then say that the run was unisolated."
    )


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
import os, platform, sys
sys.path[:0] = [{path!r}]
from autograder.isolation import syscalls as s, userns
flags = s.CLONE_NEWNS | s.CLONE_NEWPID | s.CLONE_NEWNET | s.CLONE_NEWIPC
if os.geteuid() == 0:
    s.check(s.libc.unshare(flags), "unshare")
else:
    userns.enter(flags)
pid = os.fork()
if pid == 0:
    try:
        s.mount("none", "/", None, s.MS_REC | s.MS_PRIVATE)
        s.mount("tmpfs", "/tmp", "tmpfs", s.MS_NOSUID | s.MS_NODEV, "size=64k")
        os.mkdir("/tmp/proc")
        s.mount("proc", "/tmp/proc", "proc", s.MS_NOSUID | s.MS_NODEV | s.MS_NOEXEC)
        os.mkdir("/tmp/old")
        s.check(s.libc.syscall(s.SYS_PIVOT_ROOT[platform.machine()], b"/tmp", b"/tmp/old"), "pivot_root")
    except BaseException as exc:
        print(exc, file=sys.stderr)
        os._exit(1)
    os._exit(0)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def probe() -> Isolation:
    """Find out, in a throw-away process (about 0.1 s of CPU), whether student code can be isolated.

    Tries what the student process will do: unshare the namespaces (with a user namespace when not
    root), mount a tmpfs and a fresh ``/proc`` in them and make the tmpfs the root (``pivot_root``,
    as the default-deny view does).
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
    root = str(PACKAGE_DIR.parent)
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
    """The isolation a student process reported (its ``protections``): as in :attr:`Isolation.kind`.

    ``"none"`` too when it had namespaces but not the default-deny view (it then ran no student code).
    """
    if protections.get("pid_namespace") != "on" or protections.get("view", "").startswith("off"):
        return "none"
    return "user namespace" if "user_namespace" in protections else "root"


def check_isolation(reference_set: str, allow_unisolated: bool = False) -> Isolation:
    """What isolation student code gets here; refuses hidden grading without any.

    Raises:
        UnisolatedError: no isolation, ``reference_set == "hidden"`` and not ``allow_unisolated``.
    """
    isolation = probe()
    if not isolation.available and reference_set == "hidden" and not allow_unisolated:
        raise UnisolatedError(unisolated_message(isolation.reason))
    return isolation
