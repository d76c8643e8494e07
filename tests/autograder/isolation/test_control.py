"""The grader's side of killing student processes (autograder.isolation.control), against pid reuse."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder.isolation import control

pytestmark = pytest.mark.linux


def test_a_reused_guard_pid_never_kills_other_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Once a student process's guard has exited, its pid may belong to any process (pids wrap at
    32768 here): is a process with a child that is no namespace's PID 1 left alone, instead of every
    process in the grader's own PID namespace being killed?"""
    sleeper = "[sys.executable, '-c', 'import time; time.sleep(60)']"
    script = f"import subprocess, sys, time; subprocess.Popen({sleeper}); time.sleep(60)"
    parent = subprocess.Popen([sys.executable, "-c", script])
    try:
        children = Path(f"/proc/{parent.pid}/task/{parent.pid}/children")
        deadline = time.monotonic() + 30
        while not children.read_text().split() and time.monotonic() < deadline:
            time.sleep(0.05)
        child = int(children.read_text().split()[0])
        killed: list[int] = []
        monkeypatch.setattr(os, "kill", lambda pid, sig: killed.append(pid))
        monkeypatch.setattr(os, "killpg", lambda pid, sig: killed.append(-pid))
        for keep_zygote in (True, False):
            control.kill_student_processes(parent.pid, namespaced=True, keep_zygote=keep_zygote)
        assert killed == [], f"{len(killed)} processes would have been killed (child {child})"
    finally:
        monkeypatch.undo()
        for pid in (parent.pid, *(int(p) for p in children.read_text().split() if p)):
            with contextlib.suppress(OSError):
                os.kill(pid, 9)
        parent.wait()
