"""Telling the machine's lack of memory from the student's: a call the kernel killed, or one that timed
out while its cgroup thrashed at its memory limit, is the grader's failure (no grade), not the
student's; the message says what ran out and what to raise.
"""

from __future__ import annotations

from autograder.cgroups import major_faults, memory_limit, memory_peak, memory_usage, oom_kills

__all__ = ["THRASHING_FAULTS", "MemoryWatch", "memory_exhausted_message"]

#: Pages a cgroup may read back from disk during one call that times out before the timeout is put
#: down to a lack of memory (thrashing) rather than to the call: measured on the 2-core machine, a
#: whole cold grading run of both notebooks reads 4 500 (loading torch), a thrashing call 10 000+.
THRASHING_FAULTS = 2000


def memory_exhausted_message(thrashing: bool = False) -> str:
    """What ran out and what to raise, when the kernel killed a student process for lack of memory
    or a call timed out while the machine was thrashing (for the staff: the student's result says
    "not your grade")."""
    limit, peak = memory_limit(), memory_peak()
    where = ""
    if limit is not None:
        where = f" (this container's limit: {limit / 2**20:.0f} MiB"
        where += f", peak {peak / 2**20:.0f} MiB)" if peak is not None else ")"
    what = (
        "a call ran out of time while the kernel kept reading evicted pages back from disk"
        if thrashing
        else "the kernel killed a student process"
    )
    return (
        f"the machine ran out of memory{where} and {what}: not the "
        "student's doing, so this is not a grade. On Gradescope raise the memory under the "
        "assignment's Settings > Autograder Settings (1.5 GB is plenty: docs/grading.md lists what "
        "grading needs) and regrade; elsewhere give the grader more memory or use fewer --workers."
    )


class MemoryWatch:
    """The cgroup's OOM kills and major faults when something started (a call, a student process)."""

    def __init__(self) -> None:
        self.oom_kills = oom_kills()
        self.faults = major_faults()

    def killed(self) -> bool:
        """Has the kernel's OOM killer killed a process of this cgroup since?"""
        return self.oom_kills is not None and (oom_kills() or 0) > self.oom_kills

    def thrashed(self) -> bool:
        """Has this cgroup, at its memory limit, read more than :data:`THRASHING_FAULTS` pages back
        from disk since? Only at a limit: elsewhere other programs' faults would be counted too."""
        limit, usage, faults = memory_limit(), memory_usage(), major_faults()
        if None in (self.faults, faults, limit, usage):
            return False
        assert self.faults is not None and faults is not None and limit is not None and usage is not None
        return usage >= 0.9 * limit and faults - self.faults > THRASHING_FAULTS
