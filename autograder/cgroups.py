"""Linux control groups: the CPU and memory this process may use, and child groups with limits.

Gradescope, Docker and most CI runners limit a container through its cgroup, not through what
``os.cpu_count()`` or ``/proc/meminfo`` report: Gradescope's default is half a CPU and 768 MB.
Reading (the grader): :func:`cpu_quota`, :func:`memory_limit`, :func:`memory_usage`,
:func:`memory_peak` and :func:`oom_kills` of the cgroup this process runs in, with cgroup v2
(``cpu.max``, ``memory.max``, ``memory.current``, ``memory.peak``, ``memory.events``) or v1
(``cpu.cfs_quota_us``/``cpu.cfs_period_us``, ``memory.limit_in_bytes``, ``memory.usage_in_bytes``,
``memory.max_usage_in_bytes``, ``memory.oom_control``). Limits of ancestor groups count too.

Making (benchmarks, tests, the Gradescope self-test where it is allowed): :class:`LimitedGroup`, a
new group with a memory limit and a CPU quota that commands join, removed afterwards; v1 where its
memory hierarchy is writable, else v2 where the memory and cpu controllers can be enabled.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CgroupUnavailableError",
    "LimitedGroup",
    "cpu_quota",
    "major_faults",
    "memory_limit",
    "memory_peak",
    "memory_usage",
    "oom_kills",
    "unreclaimable_memory",
]

#: cgroup v1 reports "no limit" as a huge number; anything above this is no limit.
_NO_LIMIT = 1 << 60


class CgroupUnavailableError(RuntimeError):
    """No writable cgroup hierarchy with the memory and cpu controllers (the message says why)."""


@dataclass(frozen=True)
class _Hierarchy:
    version: int  # 1 or 2
    mount: Path  # where it is mounted
    controllers: frozenset[str]  # v1: those bound to it; v2: every controller it has


def _hierarchies() -> list[_Hierarchy]:
    found = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        left, _, right = line.partition(" - ")
        fstype, _, options = [*right.split(" "), "", "", ""][:3]
        mount = Path(left.split(" ")[4])
        if fstype == "cgroup2":
            try:
                controllers = (mount / "cgroup.controllers").read_text().split()
            except OSError:
                controllers = []
            found.append(_Hierarchy(2, mount, frozenset(controllers)))
        elif fstype == "cgroup":
            found.append(_Hierarchy(1, mount, frozenset(options.split(","))))
    return found


def _own_dir(controller: str) -> Path | None:
    """This process's folder in the hierarchy that holds ``controller`` (v1 first, then v2)."""
    try:
        memberships = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    paths: dict[str, str] = {}
    for line in memberships:
        _, names, path = line.split(":", 2)
        for name in names.split(",") if names else [""]:
            paths[name] = path
    for hierarchy in _hierarchies():
        if hierarchy.version == 1 and controller in hierarchy.controllers and controller in paths:
            return hierarchy.mount / paths[controller].lstrip("/")
    for hierarchy in _hierarchies():
        if hierarchy.version == 2 and controller in hierarchy.controllers and "" in paths:
            return hierarchy.mount / paths[""].lstrip("/")
    return None


def _ancestry(folder: Path | None) -> list[Path]:
    """``folder`` and its parents up to its hierarchy's mount point (where the files stop)."""
    chain = []
    while folder is not None and (folder / "cgroup.procs").exists():
        chain.append(folder)
        folder = folder.parent if folder.parent != folder else None
    return chain


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def cpu_quota() -> float | None:
    """CPUs this process's cgroup may use (``0.5``: half a CPU), the tightest of its ancestors';
    ``None`` when no quota is set or cgroups are not available."""
    quotas = []
    for folder in _ancestry(_own_dir("cpu")):
        if (text := _read(folder / "cpu.max")) is not None:  # v2: "max 100000" or "50000 100000"
            quota, _, period = text.partition(" ")
            if quota != "max" and period:
                quotas.append(int(quota) / int(period))
        elif (quota_us := _read(folder / "cpu.cfs_quota_us")) is not None:
            period_us = _read(folder / "cpu.cfs_period_us")
            if int(quota_us) > 0 and period_us:
                quotas.append(int(quota_us) / int(period_us))
    return min(quotas) if quotas else None


def _memory_file(v2: str, v1: str) -> list[Path]:
    chain = _ancestry(_own_dir("memory"))
    return [folder / (v2 if (folder / v2).exists() else v1) for folder in chain]


def memory_limit() -> int | None:
    """The memory limit of this process's cgroup in bytes (the tightest of its ancestors');
    ``None`` when there is none or cgroups are not available."""
    limits = []
    for path in _memory_file("memory.max", "memory.limit_in_bytes"):
        text = _read(path)
        if text is not None and text != "max" and int(text) < _NO_LIMIT:
            limits.append(int(text))
    return min(limits) if limits else None


def _own_memory_value(v2: str, v1: str) -> int | None:
    files = _memory_file(v2, v1)
    text = _read(files[0]) if files else None
    return int(text) if text is not None and text.isdigit() else None


def memory_usage() -> int | None:
    """Bytes this process's cgroup uses now (page cache included), ``None`` when unknown."""
    return _own_memory_value("memory.current", "memory.usage_in_bytes")


def memory_peak() -> int | None:
    """Highest :func:`memory_usage` of this process's cgroup so far; ``None`` when the kernel does not
    record it (cgroup v2 before Linux 5.19)."""
    return _own_memory_value("memory.peak", "memory.max_usage_in_bytes")


def _oom_kills_in(folder: Path) -> int | None:
    for name in ("memory.events", "memory.oom_control"):
        text = _read(folder / name)
        if text is None:
            continue
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                return int(value)
    return None


def _unreclaimable(stat_text: str | None) -> int | None:
    values = dict(line.split(" ", 1) for line in (stat_text or "").splitlines() if " " in line)
    for anon, shmem in (("total_rss", "total_shmem"), ("anon", "shmem")):  # v1 (hierarchical), v2
        if values.get(anon, "").strip().isdigit():
            return int(values[anon]) + int(values.get(shmem, "0").strip() or 0)
    return None


def unreclaimable_memory() -> int | None:
    """Bytes of this process's cgroup that the kernel cannot reclaim: anonymous memory and tmpfs
    (page cache, which it can, comes on top); ``None`` when unknown. Running short of memory means
    this reaching the limit."""
    chain = _ancestry(_own_dir("memory"))
    return _unreclaimable(_read(chain[0] / "memory.stat")) if chain else None


def major_faults() -> int | None:
    """Major page faults (pages read back from disk) in this process's cgroup and its children so
    far: they climb by thousands a second when memory is so short that code pages are evicted and
    read again (thrashing); ``None`` when unknown."""
    chain = _ancestry(_own_dir("memory"))
    text = _read(chain[0] / "memory.stat") if chain else None
    values = dict(line.split(" ", 1) for line in (text or "").splitlines() if " " in line)
    for key in ("total_pgmajfault", "pgmajfault"):  # v1's hierarchical count; v2's is hierarchical
        if values.get(key, "").strip().isdigit():
            return int(values[key])
    return None


def oom_kills() -> int | None:
    """How many processes the kernel's OOM killer has killed in this process's cgroup (v2: and its
    children); ``None`` when the kernel does not say (cgroup v1 before Linux 4.13)."""
    chain = _ancestry(_own_dir("memory"))
    return _oom_kills_in(chain[0]) if chain else None


class LimitedGroup:
    """A new cgroup with a memory limit and a CPU quota; processes join it with :meth:`join`.

    Needs root (or a delegated hierarchy). Use as a context manager: on exit every process still in
    it is killed and the group is removed.

    Args:
        memory_bytes: the memory limit (page cache included, as Gradescope's container counts it).
        cpus: the CPU quota in CPUs (``0.5``: 50 ms of CPU time per 100 ms).

    Raises:
        CgroupUnavailableError: no writable hierarchy offers both controllers here (the message says why).
    """

    PERIOD_US = 100_000

    def __init__(self, memory_bytes: int, cpus: float) -> None:
        self.memory_bytes = int(memory_bytes)
        self.cpus = cpus
        self.folders: list[Path] = []
        self.version = 0
        name = f"autograder-limited-{uuid.uuid4().hex[:8]}"
        reasons = []
        for make in (self._make_v1, self._make_v2):
            try:
                make(name)
                return
            except OSError as exc:
                self._remove()
                reasons.append(str(exc))
        raise CgroupUnavailableError(
            "no writable cgroup with memory and cpu controllers: " + "; ".join(reasons)
        )

    def _make_v1(self, name: str) -> None:
        mounts = {c: h.mount for h in _hierarchies() if h.version == 1 for c in h.controllers}
        if "memory" not in mounts or "cpu" not in mounts:
            raise OSError("cgroup v1: no memory and cpu hierarchies mounted")
        memory, cpu = mounts["memory"] / name, mounts["cpu"] / name
        memory.mkdir()
        self.folders.append(memory)
        if cpu != memory:
            cpu.mkdir()
            self.folders.append(cpu)
        (memory / "memory.limit_in_bytes").write_text(str(self.memory_bytes))
        (cpu / "cpu.cfs_period_us").write_text(str(self.PERIOD_US))
        (cpu / "cpu.cfs_quota_us").write_text(str(int(self.cpus * self.PERIOD_US)))
        self.version = 1

    def _make_v2(self, name: str) -> None:
        roots = [h for h in _hierarchies() if h.version == 2 and {"memory", "cpu"} <= h.controllers]
        if not roots:
            raise OSError("cgroup v2: no hierarchy with the memory and cpu controllers")
        parent = roots[0].mount
        enabled = (_read(parent / "cgroup.subtree_control") or "").split()
        if not {"memory", "cpu"} <= set(enabled):
            (parent / "cgroup.subtree_control").write_text("+memory +cpu")
        folder = parent / name
        folder.mkdir()
        self.folders.append(folder)
        (folder / "memory.max").write_text(str(self.memory_bytes))
        if (folder / "memory.swap.max").exists():  # the limit is for memory, not memory + swap
            (folder / "memory.swap.max").write_text("0")
        (folder / "cpu.max").write_text(f"{int(self.cpus * self.PERIOD_US)} {self.PERIOD_US}")
        self.version = 2

    def join(self) -> None:
        """Move the calling process into the group (e.g. as a ``subprocess`` ``preexec_fn``)."""
        for folder in self.folders:
            (folder / "cgroup.procs").write_text("0")

    @property
    def _memory(self) -> Path:
        return self.folders[0]

    def peak_bytes(self) -> int | None:
        """The group's highest memory use so far (``None`` on v2 before Linux 5.19)."""
        text = _read(self._memory / ("memory.peak" if self.version == 2 else "memory.max_usage_in_bytes"))
        return int(text) if text is not None and text.isdigit() else None

    def usage_bytes(self) -> int:
        """The group's memory use now."""
        text = _read(self._memory / ("memory.current" if self.version == 2 else "memory.usage_in_bytes"))
        return int(text) if text and text.isdigit() else 0

    def unreclaimable_bytes(self) -> int | None:
        """The group's anonymous memory and tmpfs now (see :func:`unreclaimable_memory`)."""
        return _unreclaimable(_read(self._memory / "memory.stat"))

    def oom_kills(self) -> int:
        """Processes the OOM killer killed in the group."""
        return _oom_kills_in(self._memory) or 0

    def pids(self) -> list[int]:
        """Processes in the group now."""
        text = _read(self._memory / "cgroup.procs") or ""
        return [int(p) for p in text.split()]

    def __enter__(self) -> LimitedGroup:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Kill what is left in the group and remove it."""
        if self.folders:
            for _ in range(50):
                pids = self.pids()
                if not pids:
                    break
                for pid in pids:
                    with contextlib.suppress(OSError):
                        os.kill(pid, 9)
                time.sleep(0.1)
        self._remove()

    def _remove(self) -> None:
        for folder in reversed(self.folders):
            for _ in range(50):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # processes still exiting
                    time.sleep(0.1)
        self.folders = []
