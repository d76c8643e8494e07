"""Nothing outlives a grading run, and a run sweeps what a killed one left.

Found before: every batch with ``--workers 2`` left its workers' ``autograder-template-*`` folders in
the temporary folder (the workers never ran their exit handlers), and after a SIGKILL of the grader
its workers, their templates and student processes went on running and 6 folders stayed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from autograder.isolation.folders import SANDBOX_PREFIX, sweep_leftovers
from autograder.process_memory import tree_pids
from tests.helpers.notebooks import replace_solution, solution_nb


def _leftover_folders(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("autograder-"))


def _processes_naming(token: str) -> list[int]:
    """Processes whose command line holds ``token`` (the grader's temporary folder is in each label)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            with contextlib.suppress(OSError):
                if token.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    found.append(int(entry))
    return found


def _alive(pid: int, started: str) -> bool:
    """Is ``pid`` still the process that had start time ``started`` (pids are reused)?"""
    try:
        return _start_time(pid) == started
    except OSError:
        return False


def _start_time(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]


def test_sweep_removes_only_unlocked_sandbox_folders(tmp_path: Path) -> None:
    """Is a sandbox folder nobody holds removed, while a held one, a young unlocked one being made, a
    symbolic link and other folders are kept?"""
    orphan = tmp_path / f"{SANDBOX_PREFIX}orphan"
    (orphan / "home").mkdir(parents=True)
    held = tmp_path / f"{SANDBOX_PREFIX}held"
    held.mkdir()
    being_made = tmp_path / "autograder-new-abc"
    being_made.mkdir()
    old_template = tmp_path / "autograder-template-xyz"
    (old_template / "fontlist").mkdir(parents=True)
    os.utime(old_template, (time.time() - 3600, time.time() - 3600))
    target = tmp_path / "precious"
    target.mkdir()
    (tmp_path / f"{SANDBOX_PREFIX}link").symlink_to(target)
    other = tmp_path / "not-ours"
    other.mkdir()
    fd = os.open(held, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        removed = sweep_leftovers(tmp_path)
    finally:
        os.close(fd)
    assert sorted(p.name for p in removed) == sorted([orphan.name, old_template.name])
    assert held.is_dir() and being_made.is_dir() and target.is_dir() and other.is_dir()
    assert (tmp_path / f"{SANDBOX_PREFIX}link").is_symlink()


def _submissions(root: Path, count: int, slow: bool) -> None:
    for i in range(count):
        nb = solution_nb("StyleTransfer")
        if slow:  # slow enough for the kill to land while student processes run
            nb = replace_solution(nb, "tv_loss", "import time\ntime.sleep(4)\nreturn None")
        path = root / "submitted" / f"student{i}" / "StyleTransfer" / "StyleTransfer.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)


def _command(root: Path, out: Path) -> list[str]:
    grade = [sys.executable, "-m", "autograder", "grade", str(root), "--out", str(out)]
    return [*grade, "--references", "public", "--workers", "2", "--quiet"]


@pytest.mark.slow
@pytest.mark.linux
def test_batch_with_workers_leaves_no_folder_or_process(tmp_path: Path) -> None:
    """After a batch with --workers 2, is the temporary folder empty and no process of it left?"""
    _submissions(tmp_path / "course", 3, slow=False)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    run = subprocess.run(
        _command(tmp_path / "course", tmp_path / "out"), env=env, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "3 graded" in run.stdout
    time.sleep(1)
    assert _leftover_folders(scratch) == []
    assert _processes_naming(str(scratch)) == []


@pytest.mark.slow
@pytest.mark.linux
def test_killed_batch_leaves_no_process_and_the_next_run_sweeps_its_folders(tmp_path: Path) -> None:
    """SIGKILL of the grader mid-batch (--workers 2): is every process of the run gone 3 s later, and
    does the next run remove the folders it left and grade everything?"""
    _submissions(tmp_path / "course", 4, slow=True)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    out = tmp_path / "out"
    proc = subprocess.Popen(
        _command(tmp_path / "course", out), env=env, start_new_session=True, stdout=subprocess.DEVNULL
    )
    seen: dict[int, str] = {}
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            for pid in tree_pids(proc.pid):
                with contextlib.suppress(OSError):
                    seen.setdefault(pid, _start_time(pid))
            if len([p for p in scratch.iterdir() if p.name.startswith(SANDBOX_PREFIX)]) >= 2:
                break  # both workers are inside a notebook
            time.sleep(0.05)
        assert proc.poll() is None, "the grader finished before it could be killed"
        time.sleep(1.0)
        for pid in tree_pids(proc.pid):
            with contextlib.suppress(OSError):
                seen.setdefault(pid, _start_time(pid))
        os.kill(proc.pid, signal.SIGKILL)  # the grader only: everything else must follow by itself
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    time.sleep(3)
    survivors = [pid for pid, started in seen.items() if _alive(pid, started)]
    survivors += [pid for pid in _processes_naming(str(scratch)) if pid not in survivors]
    for pid in survivors:  # never leave them running, even when the assertion below fails
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    assert len(seen) >= 6, seen  # grader, 2 workers, origin, 2 templates (and student processes)
    assert survivors == [], "processes outlived the killed grader"
    assert [p for p in _leftover_folders(scratch) if p.startswith(SANDBOX_PREFIX)], "nothing to sweep"

    rerun = subprocess.run(
        _command(tmp_path / "course", out), env=env, capture_output=True, text=True, timeout=600
    )
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert _leftover_folders(scratch) == []
    assert len(list((out / "results").glob("*.json"))) == 4
