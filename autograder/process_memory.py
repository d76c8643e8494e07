"""The memory a tree of processes uses, sampled from ``/proc``: each process's and the tree's total.

The grader, its template processes and the student processes share most of their pages (they are
forks of one process), so adding up resident sizes would count torch many times. The tree's total
here is the sum of proportional set sizes (PSS: each shared page divided among the processes that
map it), which counts every page once; each process's resident size (RSS) and private memory
(pages no other process maps) are kept beside it. Used by the memory benchmark and by the
Gradescope self-test, which must work where no cgroup can be made.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

__all__ = ["PeakSampler", "ProcessMemory", "TreeSampler", "process_memory", "tree_pids"]


@dataclass(frozen=True)
class ProcessMemory:
    """One process at one moment.

    Attributes:
        pid: its pid; ``ppid``: its parent's.
        name: its command name (``/proc/PID/comm``: ``python``, ``autograder-temp``...).
        rss: resident bytes (shared pages included).
        pss: proportional bytes (each shared page divided among the processes that map it).
        private: bytes no other process maps.
        command: the start of its command line (``/proc/PID/cmdline``, spaces between arguments).
    """

    pid: int
    ppid: int
    name: str
    rss: int
    pss: int
    private: int
    command: str = ""


def process_memory(pid: int) -> ProcessMemory | None:
    """``pid``'s memory now (from ``/proc/PID/smaps_rollup``); ``None`` when it is gone or unreadable."""
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        name = Path(f"/proc/{pid}/comm").read_text().strip()
        command = (
            Path(f"/proc/{pid}/cmdline").read_bytes()[:200].replace(b"\0", b" ").decode(errors="replace")
        )
        ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None
    values: dict[str, int] = {}
    for line in rollup.splitlines()[1:]:
        key, _, rest = line.partition(":")
        number = rest.split()
        if number and number[0].isdigit():
            values[key] = int(number[0]) * 1024
    return ProcessMemory(
        pid,
        ppid,
        name,
        values.get("Rss", 0),
        values.get("Pss", 0),
        values.get("Private_Clean", 0) + values.get("Private_Dirty", 0),
        command.strip(),
    )


def tree_pids(root: int) -> list[int]:
    """``root`` and every descendant still running (through ``/proc/PID/task/TID/children``)."""
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        with contextlib.suppress(OSError, ValueError):
            for task in os.listdir(f"/proc/{pid}/task"):
                todo.extend(int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split())
    return found


class _Sampling:
    """Calls :meth:`sample` every ``interval_s`` seconds in a background thread, inside a ``with``."""

    interval_s: float

    def sample(self) -> None:  # pragma: no cover - every subclass has its own
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval_s)

    def __enter__(self) -> Self:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=type(self).__name__, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class TreeSampler(_Sampling):
    """Sample a process tree's memory every ``interval_s`` seconds in a background thread.

    Use as a context manager around the work (``with TreeSampler(pid) as sampler: ...``). Each
    sample reads every process's ``smaps_rollup``: about 10 ms for a process with torch loaded.

    Attributes:
        root: the tree's root pid.
        interval_s: seconds between samples.
        peak_pss: the highest total PSS seen, in bytes.
        at_peak: every process at the moment of :attr:`peak_pss`.
        peak_rss: each process's highest resident size seen (by pid, with that sample).
        samples: how many samples were taken.
    """

    root: int
    interval_s: float = 0.25
    peak_pss: int = 0
    at_peak: list[ProcessMemory] = field(default_factory=list)
    peak_rss: dict[int, ProcessMemory] = field(default_factory=dict)
    samples: int = 0

    def sample(self) -> None:
        """Take one sample now."""
        snapshot = [m for pid in tree_pids(self.root) if (m := process_memory(pid)) is not None]
        self.samples += 1
        total = sum(m.pss for m in snapshot)
        if total > self.peak_pss:
            self.peak_pss, self.at_peak = total, snapshot
        for m in snapshot:
            if m.pid not in self.peak_rss or m.rss > self.peak_rss[m.pid].rss:
                self.peak_rss[m.pid] = m


@dataclass
class PeakSampler(_Sampling):
    """The highest value ``measure()`` returns while sampled every ``interval_s`` seconds in a thread
    (e.g. :func:`autograder.cgroups.unreclaimable_memory`: cheap, unlike a :class:`TreeSampler`).

    Use as a context manager; :attr:`peak` is ``None`` when ``measure`` never returned a value.
    """

    measure: Callable[[], int | None]
    interval_s: float = 0.05
    peak: int | None = None

    def sample(self) -> None:
        """Take one sample now."""
        value = self.measure()
        if value is not None and (self.peak is None or value > self.peak):
            self.peak = value
