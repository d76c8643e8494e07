"""Nothing is lost when the grader is killed: finished results survive, a rerun completes the rest."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from tests.grading_safety.corpus_run import processes_with
from tests.helpers.notebooks import REPO, replace_solution, solution_nb

pytestmark = [pytest.mark.slow, pytest.mark.linux]

STUDENTS = ("alice", "bob", "carol", "dave")
RESULT_KEYS = {"student", "assignment", "score", "max_score", "checks", "problems"}


def _grade_command(root: Path, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "autograder",
        "grade",
        str(root),
        "--out",
        str(out),
        "--references",
        "public",
        "--timeout",
        "20",
        "--workers",
        "1",
        "--quiet",
    ]


def _results(out: Path) -> dict[str, tuple[float, dict]]:
    """Result files now present: name -> (mtime, parsed JSON). Fails on any incomplete file."""
    found = {}
    for path in sorted((out / "results").glob("*.json")):
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)  # a half-written file would fail here
        assert set(data) >= RESULT_KEYS, f"{path.name} is incomplete: {sorted(data)}"
        found[path.name] = (path.stat().st_mtime_ns, data)
    return found


def test_killed_grader_loses_nothing_and_grades_nothing_twice(tmp_path: Path) -> None:
    """After SIGKILL mid-batch, are written results complete, and does a rerun grade only the rest?"""
    root = tmp_path / "course"
    for student in STUDENTS:
        nb = solution_nb("StyleTransfer")
        if student == "carol":  # a slow one, so that the kill lands mid-call for some runs
            nb = replace_solution(nb, "tv_loss", "import time\ntime.sleep(3)\nreturn None")
        path = root / "submitted" / student / "StyleTransfer" / "StyleTransfer.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
    out = tmp_path / "out"
    scratch = tmp_path / "tmp"  # the grader's sandboxes live here: their command lines name tmp_path
    scratch.mkdir()
    env = {**os.environ, "COURSE_PROGRESS": "0", "TMPDIR": str(scratch)}
    proc = subprocess.Popen(
        _grade_command(root, out), cwd=REPO, env=env, start_new_session=True, stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if len(list((out / "results").glob("*.json"))) >= 1:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the grader finished before it could be killed; grade more submissions"
        time.sleep(1.0)  # land somewhere inside the next submission
        os.kill(proc.pid, signal.SIGKILL)  # the grader only: its sandboxes must notice on their own
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    time.sleep(3)  # the student processes notice the grader's death (parent-death signal) and exit
    orphans = processes_with(str(tmp_path))
    for pid in orphans:  # never leave them running, even when the assertion below fails
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    assert orphans == [], "student processes outlived the killed grader"
    before = _results(out)
    assert 1 <= len(before) < len(STUDENTS), sorted(before)

    rerun = subprocess.run(
        _grade_command(root, out), cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    after = _results(out)
    assert {data["student"] for _, data in after.values()} == set(STUDENTS)
    for name, (mtime, _) in before.items():
        assert after[name][0] == mtime, f"{name} was graded twice"
    assert f"{len(STUDENTS) - len(before)} graded, {len(before)} already graded" in rerun.stdout
    scores = {data["student"]: data["score"] for _, data in after.values()}
    assert scores["alice"] == scores["bob"] == scores["dave"] == after[next(iter(after))][1]["max_score"]
    assert scores["carol"] == scores["alice"] - 3
