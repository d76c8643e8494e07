"""How many grading workers this machine can run (``grade --workers auto``): its CPUs and its memory.

CPUs are the cores this process may run on (``sched_getaffinity``), capped by its cgroup's quota
(a container given 1.5 CPUs runs one worker). Memory is what is available now (``MemAvailable``, and
what the cgroup's limit leaves); grading needs :data:`SHARED_MEMORY_MB` once (the grader and the
origin: torch, the course modules and the model, shared by every worker) plus
:data:`WORKER_MEMORY_MB` per worker (its process, its template, a student process and a call of a
float64 gradient check at their peak), both measured by ``bench/bench_grader_memory.py
--workers-scan`` (peaks of anonymous memory and tmpfs, with the page cache reclaimable on top).
Each worker uses one thread (torch and BLAS are set to one per process): more workers than CPUs
only queue.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from autograder.cgroups import cpu_quota, memory_limit, memory_usage

__all__ = ["SHARED_MEMORY_MB", "WORKER_MEMORY_MB", "WorkerPlan", "available_memory", "plan_workers"]

#: MiB grading needs once, whatever the number of workers: bench/bench_grader_memory.py --workers-scan
#: measured 559 (the anonymous+tmpfs peak with one worker, 740, minus what one more worker adds) with
#: the CUDA build of torch (the CPU build needs about 140 less); rounded up.
SHARED_MEMORY_MB = 600
#: MiB each worker adds at its peak: the same benchmark measured 181 (two workers minus one); rounded up.
WORKER_MEMORY_MB = 200
#: Memory left to everything else on the machine (the desktop, the page cache of code).
RESERVE_MB = 512


def available_memory() -> int:
    """Bytes this process may still use: ``MemAvailable``, or less when its cgroup's limit is closer."""
    available = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
    except OSError:
        pass
    if available is None:
        available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    limit, usage = memory_limit(), memory_usage()
    if limit is not None:
        available = min(available, max(0, limit - (usage or 0)))
    return available


@dataclass(frozen=True)
class WorkerPlan:
    """How many workers, and why.

    Attributes:
        workers: the number chosen (at least 1).
        cores: cores this process may run on.
        quota: its cgroup's CPU quota in CPUs, ``None`` when there is none.
        available_mb: memory available now, MiB.
    """

    workers: int
    cores: int
    quota: float | None
    available_mb: float

    @property
    def by_cpu(self) -> int:
        """Workers the CPUs allow."""
        cpus = self.cores if self.quota is None else min(self.cores, self.quota)
        return max(1, math.floor(cpus))

    @property
    def by_memory(self) -> int:
        """Workers the memory allows."""
        left = self.available_mb - RESERVE_MB - SHARED_MEMORY_MB
        return max(1, math.floor(left / WORKER_MEMORY_MB))

    def describe(self) -> str:
        """One line for the start of a run: the choice and the numbers behind it."""
        cpus = f"{self.cores} cores" + (f", CPU quota {self.quota:g}" if self.quota is not None else "")
        return (
            f"--workers auto: {self.workers} worker(s): {cpus} allow {self.by_cpu}; "
            f"{self.available_mb / 1024:.1f} GiB available allow {self.by_memory} "
            f"({SHARED_MEMORY_MB} MiB shared + {WORKER_MEMORY_MB} MiB per worker, measured by "
            f"bench/bench_grader_memory.py --workers-scan, {RESERVE_MB} MiB left to the rest)"
        )


def plan_workers(
    cores: int | None = None, quota: float | None = None, available: int | None = None
) -> WorkerPlan:
    """Choose the number of workers from the CPUs and the memory (each measured here unless given).

    Args:
        cores: cores this process may run on (default: ``os.sched_getaffinity``).
        quota: CPU quota in CPUs (default: this process's cgroup's).
        available: available memory in bytes (default: :func:`available_memory`).
    """
    cores = cores if cores is not None else len(os.sched_getaffinity(0))
    quota = quota if quota is not None else cpu_quota()
    available = available if available is not None else available_memory()
    probe = WorkerPlan(1, cores, quota, available / 2**20)
    return WorkerPlan(min(probe.by_cpu, probe.by_memory), cores, quota, available / 2**20)
