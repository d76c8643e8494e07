"""Run ``python -m autograder grade`` in a memory cgroup with a CPU quota and sample its processes.

Shared by the memory benchmark (``bench_grader_memory.py``) and the grading benchmark: a run's
wall time, the cgroup's peak, the peak of the summed PSS of every process of the run, each process
at that moment and each process's own peak RSS, each process named by its role.

An earlier revision of the grader runs from an environment made here (:func:`revision_python`): a
venv without packages of its own whose ``.pth`` file puts ``git archive REV`` first and this
environment's site-packages after it, so both revisions import the same torch and every process of
the old one (its ``python -I -m ...`` template too) imports the old code.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import sysconfig
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from autograder.cgroups import CgroupUnavailableError, LimitedGroup
from autograder.process_memory import PeakSampler, ProcessMemory, TreeSampler

__all__ = ["BareTorch", "GradingRun", "bare_torch", "grade_in_group", "revision_python", "role_names"]

REPO = Path(__file__).resolve().parents[1]
MIB = 2**20


def revision_python(rev: str, folder: Path) -> Path:
    """A Python that imports the course code of git revision ``rev`` and this environment's packages."""
    code = folder / f"checkout-{rev}"
    code.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", rev, "autograder", "course_utils"],
        check=True,
        capture_output=True,
    ).stdout
    tar = folder / "code.tar"
    tar.write_bytes(archive)
    with tarfile.open(tar) as t:
        t.extractall(code, filter="data")
    venv = folder / f"venv-{rev}"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = sysconfig.get_paths()["purelib"]
    Path(purelib, "zz_revision.pth").write_text(f"{code}\n{ours}\n")
    return python


@dataclass
class GradingRun:
    """One measured run (sizes in bytes)."""

    seconds: float
    returncode: int
    output: str
    cgroup_peak: int | None
    pss_peak: int
    unreclaimable_peak: int | None = None
    at_peak: list[ProcessMemory] = field(default_factory=list)
    peak_rss: list[ProcessMemory] = field(default_factory=list)
    roles: dict[int, str] = field(default_factory=dict)
    oom_kills: int = 0


def role_names(processes: list[ProcessMemory], root: int) -> dict[int, str]:
    """Name each process by its place in the tree: grader, worker, origin, template, student, call."""
    parent = {p.pid: p.ppid for p in processes}
    label = {p.pid: p.command or p.name for p in processes}
    roles: dict[int, str] = {}

    def role(pid: int) -> str:
        if pid in roles:
            return roles[pid]
        text = label.get(pid, "")
        if pid == root:
            name = "grader"
        elif "template-origin" in text:
            name = "origin"
        elif "template_main" in text or text.startswith("autograder-template "):
            up = role(parent[pid]) if parent.get(pid) in parent else ""
            name = "template" if up in ("grader", "worker", "origin") else _student(up)
        elif " -I -S -c" in text or " -I -c " in text:
            name = "probe"
        elif parent.get(pid) == root:
            name = "worker"
        else:
            name = _student(role(parent[pid])) if parent.get(pid) in parent else "other"
        roles[pid] = name
        return name

    for p in processes:
        role(p.pid)
    return roles


def _student(up: str) -> str:
    return {"template": "student (guard)", "student (guard)": "student (zygote)"}.get(up, "call")


def grade_in_group(
    python: Path, submissions: Path, out: Path, hidden: Path, cpus: float | None, workers: int = 1
) -> GradingRun:
    """Grade ``submissions`` with ``python -m autograder grade`` in a fresh cgroup, sampled."""
    command = [str(python), "-m", "autograder", "grade", str(submissions), "--out", str(out)]
    command += ["--hidden-references", str(hidden), "--workers", str(workers), "--force", "--quiet"]
    env = {**os.environ, "COURSE_PROGRESS": "0"}
    group = None
    try:
        group = LimitedGroup(64 * 2**30, cpus or os.cpu_count() or 1)
    except CgroupUnavailableError as exc:
        print(f"  (no cgroup: {exc}; memory from PSS only, no CPU quota)")
    started = time.perf_counter()
    proc = subprocess.Popen(
        command,
        cwd=python.parent.parent if "venv-" in str(python) else REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=group.join if group else None,
    )
    measure = group.unreclaimable_bytes if group else lambda: None
    with TreeSampler(proc.pid) as sampler, PeakSampler(measure) as fixed:
        output, _ = proc.communicate()
    seconds = time.perf_counter() - started
    run = GradingRun(seconds, proc.returncode, output, None, sampler.peak_pss, fixed.peak, sampler.at_peak)
    run.peak_rss = sorted(sampler.peak_rss.values(), key=lambda p: p.pid)
    run.roles = role_names(run.peak_rss, proc.pid)
    if group is not None:
        run.cgroup_peak, run.oom_kills = group.peak_bytes(), group.oom_kills()
        group.close()
    return run


@dataclass(frozen=True)
class BareTorch:
    """A bare ``import torch`` (bytes): its resident size, and its cgroup's peak and anonymous memory."""

    rss: int
    cgroup_peak: int | None
    unreclaimable: int | None


def bare_torch() -> BareTorch:
    """Measure a bare ``import torch`` in a fresh cgroup (after the import, before it exits)."""
    status = "sys.stdout.write(open('/proc/self/status').read()); sys.stdout.flush()"
    code = f"import os, sys, torch; {status}; os.close(1); sys.stdin.read()"  # alive until told
    group = None
    with contextlib.suppress(CgroupUnavailableError):
        group = LimitedGroup(64 * 2**30, os.cpu_count() or 1)
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=group.join if group else None,
    )
    assert proc.stdout is not None and proc.stdin is not None
    status = proc.stdout.read()
    fixed = group.unreclaimable_bytes() if group else None
    proc.stdin.close()
    proc.wait()
    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")) * 1024
    peak = group.peak_bytes() if group else None
    if group is not None:
        group.close()
    return BareTorch(rss, peak, fixed)


def describe(run: GradingRun) -> list[str]:
    """The processes at the moment of the PSS peak and each one's own peak, one line each."""
    lines = ["  at the peak (RSS / PSS / private MiB):"]
    for p in sorted(run.at_peak, key=lambda p: p.pid):
        role = run.roles.get(p.pid, p.name)
        lines.append(f"    {role:18s} {p.rss / MIB:6.0f} {p.pss / MIB:6.0f} {p.private / MIB:6.0f}")
    lines.append("  each process's own peak RSS (MiB), by role: " + ", ".join(_by_role(run)))
    return lines


def _by_role(run: GradingRun) -> list[str]:
    groups: dict[str, list[float]] = {}
    for p in run.peak_rss:
        groups.setdefault(run.roles.get(p.pid, p.name), []).append(p.rss / MIB)
    return [
        f"{role} {max(values):.0f}" + (f" (x{len(values)})" if len(values) > 1 else "")
        for role, values in groups.items()
    ]
