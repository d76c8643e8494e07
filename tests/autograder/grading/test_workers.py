"""``grade --workers auto``: as many workers as the CPUs (quota included) and the memory allow."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from autograder.grading.workers import RESERVE_MB, SHARED_MEMORY_MB, WORKER_MEMORY_MB, plan_workers
from tests.helpers.notebooks import REPO

GIB = 2**30


def test_cpus_decide_when_memory_is_plenty() -> None:
    """With 64 GiB free, is it one worker per core, and the quota's whole CPUs when there is one?"""
    assert plan_workers(cores=2, quota=None, available=64 * GIB).workers == 2
    assert plan_workers(cores=16, quota=None, available=64 * GIB).workers == 16
    assert plan_workers(cores=16, quota=1.5, available=64 * GIB).workers == 1
    assert plan_workers(cores=16, quota=0.5, available=64 * GIB).workers == 1  # Gradescope's default


def test_memory_decides_when_it_is_short() -> None:
    """With 16 cores but little memory, are there only as many workers as fit, and never fewer than one?"""
    fits = 3
    available = (RESERVE_MB + SHARED_MEMORY_MB + fits * WORKER_MEMORY_MB + 10) * 2**20
    plan = plan_workers(cores=16, quota=None, available=available)
    assert plan.workers == fits and plan.by_cpu == 16 and plan.by_memory == fits
    assert plan_workers(cores=16, quota=None, available=100 * 2**20).workers == 1


def test_the_plan_says_what_it_is_based_on() -> None:
    """Does the line printed at the start give the choice, the CPUs, the memory and the per-worker cost?"""
    line = plan_workers(cores=4, quota=2.0, available=3 * GIB).describe()
    assert line.startswith("--workers auto: ")
    assert "4 cores, CPU quota 2" in line and "3.0 GiB available" in line
    assert f"{WORKER_MEMORY_MB} MiB per worker" in line and "bench_grader_memory.py" in line


def test_bad_worker_counts_are_refused_with_the_choices(tmp_path: Path) -> None:
    """Is `--workers many` or `--workers 0` refused by the command line, naming what it accepts?"""
    for value in ("many", "0"):
        grade = [sys.executable, "-m", "autograder", "grade", str(tmp_path), "--out", str(tmp_path / "o")]
        done = subprocess.run(
            [*grade, "--references", "public", "--workers", value],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 2
        assert "--workers" in done.stderr and ("'auto'" in done.stderr or "at least 1" in done.stderr)


@pytest.mark.slow
@pytest.mark.linux
def test_workers_auto_grades_and_prints_its_plan(tmp_path: Path) -> None:
    """Does `grade --workers auto` print its choice at the start and grade?"""
    grade = [sys.executable, "-m", "autograder", "grade", str(REPO / "solutions" / "StyleTransfer.ipynb")]
    done = subprocess.run(
        [*grade, "--out", str(tmp_path / "out"), "--references", "public", "--workers", "auto", "--quiet"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "--workers auto: " in done.stderr and "worker(s)" in done.stderr
    assert "1 graded" in done.stdout
