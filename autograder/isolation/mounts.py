"""The student process's root: an empty tmpfs holding only the default-deny view, then ``pivot_root``.

Called by :func:`autograder.isolation.linux.enter_namespaces` in the zygote (PID 1 of its namespaces,
root there: real root, or the owner of its user namespace), before any student code runs. Steps:

1. a small tmpfs at ``<sandbox>/root`` becomes the new root;
2. every path of :func:`autograder.isolation.view.visible_paths` is bind-mounted in it at its own
   path (symbolic links on the way, such as ``/lib -> usr/lib``, are recreated as links), and each
   hidden path that lies inside a visible one is covered (an empty tmpfs, or ``/dev/null`` for a file);
3. the system parts: a fresh ``/proc`` (of the PID namespace), a minimal ``/dev`` (``null``,
   ``zero``, ``full``, ``random``, ``urandom`` bound from the host, a private ``/dev/shm`` and a new
   ``/dev/mqueue`` of the IPC namespace), ``/etc`` with a two-line ``passwd`` and ``group``,
   size-limited private ``/tmp``, ``/var/tmp`` and ``/run/lock`` (``/var/lock`` links to it);
4. the sandbox folder: ``in/`` (read-only) and ``out/`` bound from the grader's folder, and a private
   size-limited tmpfs as the home (wherever ``TMPDIR`` is, writing there never reaches a disk);
5. ``pivot_root`` into it and detach the old root: nothing else of the machine stays reachable;
6. every mount read-only except ``/tmp``, ``/var/tmp``, ``/dev/shm``, ``/dev/mqueue``, ``/run/lock``,
   the devices, the home and ``out/`` (``mount_setattr``, Linux 5.12+).
"""

from __future__ import annotations

import contextlib
import os
import platform
from dataclasses import dataclass

from autograder.isolation.protocol import SpawnConfig
from autograder.isolation.syscalls import (
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_REC,
    SYS_PIVOT_ROOT,
    check,
    libc,
    mount,
    set_read_only,
)
from autograder.isolation.view import visible_paths

__all__ = ["DEVICES", "ViewPlan", "enter_view", "plan_view"]

#: Device nodes the student process gets (bound from the host's ``/dev``).
DEVICES = ("null", "zero", "full", "random", "urandom")
_MNT_DETACH = 2


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _strictly_inside(path: str, folder: str) -> bool:
    return path != folder and _inside(path, folder)


def _mirror_links(stage: str, path: str) -> None:
    """Recreate in ``stage`` every symbolic link on the way to ``path`` (``/lib -> usr/lib``)."""
    parts = os.path.abspath(path).strip("/").split("/")
    for i in range(1, len(parts) + 1):
        prefix = "/" + "/".join(parts[:i])
        target = stage + prefix
        if os.path.islink(prefix) and not os.path.lexists(target):
            os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
            os.symlink(os.readlink(prefix), target)


def _mount_point(target: str, folder: bool) -> None:
    """An empty folder or file at ``target`` (inside the stage) to mount on."""
    if folder:
        os.makedirs(target, mode=0o755, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
        if not os.path.lexists(target):
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT, 0o644))


def _bind(source: str, stage: str, recursive: bool = True) -> None:
    """Bind ``source`` (resolved) at its own path in ``stage``."""
    folder = os.path.isdir(source)
    _mount_point(stage + source, folder)
    mount(source, stage + source, None, MS_BIND | (MS_REC if recursive and folder else 0))


def _cover(path: str, stage: str, keep_open: bool) -> None:
    """Hide ``path`` in ``stage``: an empty tmpfs over a folder (enterable when something inside it
    must be bound back), ``/dev/null`` over a file."""
    if os.path.isdir(stage + path):
        mode = "755" if keep_open else "000"
        mount("tmpfs", stage + path, "tmpfs", MS_NOSUID | MS_NODEV, f"size=64k,mode={mode}")
    else:
        mount("/dev/null", stage + path, None, MS_BIND)


@dataclass(frozen=True)
class ViewPlan:
    """The mounts that make the view, in order (resolved absolute paths).

    Attributes:
        binds: visible paths bound first (the outermost ones: what lies inside comes along).
        covers: hidden paths inside a bound one, each with whether something visible lies inside it
            (its cover must then stay enterable).
        rebinds: visible paths inside a covered one, bound again on top of the cover.
    """

    binds: list[str]
    covers: list[tuple[str, bool]]
    rebinds: list[str]


def plan_view(visible: list[str], hidden: list[str]) -> ViewPlan:
    """Which mounts show ``visible`` and nothing of ``hidden`` (both resolved; ``hidden`` existing).

    A hidden path outside every visible one needs nothing (it is not in the view); one inside a
    visible path is covered; a visible path inside a covered one comes back on top (a venv inside a
    course root that lies in a visible folder). A path both visible and hidden stays visible: the
    student process cannot run without it.
    """
    real = sorted(dict.fromkeys(visible))
    binds = [p for p in real if not any(_strictly_inside(p, q) for q in real)]
    covers: list[tuple[str, bool]] = []
    for path in sorted(hidden):
        if path in real or not any(_strictly_inside(path, v) for v in real):
            continue
        if not any(_inside(path, c) for c, _ in covers):
            covers.append((path, any(_strictly_inside(v, path) for v in real)))
    rebinds = [p for p in real if any(_strictly_inside(p, c) for c, _ in covers)]
    return ViewPlan(binds, covers, rebinds)


def _bind_view(stage: str, visible: list[str], hidden: list[str]) -> list[str]:
    """Bind what the student sees, cover what it must not (:func:`plan_view`); returns the covered paths."""
    for path in visible:
        _mirror_links(stage, path)
    plan = plan_view([os.path.realpath(p) for p in visible if not os.path.islink(p)], hidden)
    for path in plan.binds:
        _bind(path, stage)
    for path, keep_open in plan.covers:
        _cover(path, stage, keep_open)
    for path in plan.rebinds:
        _bind(path, stage)
    return [path for path, _ in plan.covers]


def _passwd(config: SpawnConfig) -> tuple[str, str]:
    """``/etc/passwd`` and ``/etc/group`` naming only root and the student's uid (its home the sandbox's)."""
    uid = config.uid if config.uid is not None else 0
    users = {0: ("root", config.home if uid == 0 else "/"), uid: ("student", config.home)}
    passwd = "".join(
        f"{name}:x:{u}:{u}:{name}:{home}:/usr/sbin/nologin\n" for u, (name, home) in users.items()
    )
    group = "".join(f"{name}:x:{u}:\n" for u, (name, _) in users.items())
    return passwd, group


def _temporary(stage: str, config: SpawnConfig) -> list[str]:
    """Private size-limited ``/tmp``, ``/var/tmp`` and ``/run/lock`` (mounted first: a venv or checkout
    under ``/tmp`` is bound on top of them); returns them."""
    size = config.limits.file_mb
    temporary = {"/tmp": size, "/var/tmp": size, "/run/lock": 1}
    for path, mib in temporary.items():
        _mount_point(stage + path, True)
        mount("tmpfs", stage + path, "tmpfs", MS_NOSUID | MS_NODEV, f"size={mib}m,mode=1777")
    os.symlink("../run/lock", stage + "/var/lock")
    return list(temporary)


def _system(stage: str, config: SpawnConfig) -> list[str]:
    """``/proc``, ``/dev`` (with ``shm`` and ``mqueue``), ``/etc``; returns the writable mounts."""
    _mount_point(stage + "/proc", True)
    mount("proc", stage + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _mount_point(stage + "/dev", True)
    mount("tmpfs", stage + "/dev", "tmpfs", MS_NOSUID, "size=64k,mode=755")
    writable = []
    for name in DEVICES:
        if os.path.exists(f"/dev/{name}"):
            _mount_point(f"{stage}/dev/{name}", False)
            mount(f"/dev/{name}", f"{stage}/dev/{name}", None, MS_BIND)
            writable.append(f"/dev/{name}")
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0")):
        os.symlink(target, f"{stage}/dev/{name}")
    for name, target in (("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{stage}/dev/{name}")
    _mount_point(stage + "/dev/shm", True)
    mib = min(64, config.limits.file_mb)
    mount("tmpfs", stage + "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, f"size={mib}m,mode=1777")
    writable.append("/dev/shm")
    _mount_point(stage + "/dev/mqueue", True)
    with contextlib.suppress(OSError):  # a kernel without POSIX message queues: nothing to share
        mount("mqueue", stage + "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        writable.append("/dev/mqueue")
    _mount_point(stage + "/etc", True)
    passwd, group = _passwd(config)
    nsswitch = "passwd: files\ngroup: files\nhosts: files\n"
    hosts = "127.0.0.1 localhost\n::1 localhost\n"
    for name, text in (("passwd", passwd), ("group", group), ("nsswitch.conf", nsswitch), ("hosts", hosts)):
        with open(f"{stage}/etc/{name}", "w", encoding="utf-8") as f:
            f.write(text)
    return writable


def _sandbox_folder(stage: str, config: SpawnConfig) -> list[str]:
    """The sandbox's ``in/`` (read-only) and ``out/`` from the grader, a private capped home."""
    home = config.home
    root = os.path.dirname(home)
    _mount_point(stage + root, True)
    info = os.stat(root)  # the same owner and mode as the grader's folder: private to this student
    os.chown(stage + root, info.st_uid, info.st_gid)
    os.chmod(stage + root, info.st_mode & 0o7777)
    for name in ("in", "out"):
        _mount_point(f"{stage}{root}/{name}", True)
        mount(f"{root}/{name}", f"{stage}{root}/{name}", None, MS_BIND)
    _mount_point(stage + home, True)
    owner = f",uid={config.uid},gid={config.uid}" if config.uid is not None else ""
    mount(
        "tmpfs", stage + home, "tmpfs", MS_NOSUID | MS_NODEV, f"size={config.limits.file_mb}m,mode=700{owner}"
    )
    return [home, f"{root}/out"]


def _pivot(stage: str) -> None:
    """Make ``stage`` the root of this mount namespace and detach the old root."""
    number = SYS_PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise OSError(f"pivot_root is unknown on {platform.machine()}")
    old = stage + "/.old-root"
    os.mkdir(old, 0o700)
    check(libc.syscall(number, stage.encode(), old.encode()), "pivot_root")
    os.chdir("/")
    check(libc.umount2(b"/.old-root", _MNT_DETACH), "detach the old root")
    os.rmdir("/.old-root")


def enter_view(config: SpawnConfig, protections: dict[str, str]) -> None:
    """Make the default-deny view this process's root (in the zygote, as namespace root).

    Args:
        config: ``home`` (inside the sandbox folder, whose ``in/`` and ``out/`` are bound),
            ``hide`` (covered where the view would show them), ``uid`` (owner of the home as root),
            ``limits.file_mb`` (size of each private tmpfs).
        protections: updated with ``view``, ``hidden_paths``, ``private_tmp`` and ``read_only``.

    Raises:
        OSError: a mount failed; the process must not run student code then.
    """
    stage = os.path.join(os.path.dirname(config.home), "root")
    os.makedirs(stage, mode=0o700, exist_ok=True)
    mount("none", "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", stage, "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,mode=755")
    visible = visible_paths()
    hidden = [h for h in config.hide if os.path.lexists(h)]
    writable = _temporary(stage, config)
    covered = _bind_view(stage, visible, hidden)
    writable += _system(stage, config) + _sandbox_folder(stage, config)
    _pivot(stage)
    protections["view"] = "default-deny: only " + ", ".join(visible) + ", the sandbox's in/, out/ and home"
    protections["hidden_paths"] = ", ".join(hidden) or "none"
    if covered:
        protections["hidden_paths"] += " (covered inside the view: " + ", ".join(covered) + ")"
    protections["private_tmp"] = (
        f"/tmp, /var/tmp, /dev/shm, /run/lock, home (tmpfs, at most {config.limits.file_mb} MiB each)"
    )
    try:
        set_read_only("/", True, recursive=True)
        for path in writable:
            set_read_only(path, False, recursive=False)
        protections["read_only"] = "every mount except " + ", ".join(writable)
    except OSError as exc:
        protections["read_only"] = f"off ({exc})"
