"""The student processes are forks of the grader's own process: does student code still find nothing
of the grader in its memory?

The origin of every template is forked from the grader after torch and the model are loaded (so all
of them share one copy), before any reference or submission is read, and it wipes the grader's
environment and command line from its memory. A student function that scans its whole writable
memory (and ``/proc/self/environ``) for a secret the grader had in its environment must find none,
while the same scan run in a process that has it does find it.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.linux]

SCAN = textwrap.dedent(
    """
    import ctypes
    import re


    def _scan():
        pattern = re.compile(rb"AGCANARY-([0-9a-f]{32})")
        found = set()
        for name in ("/proc/self/environ", "/proc/self/cmdline"):
            try:
                with open(name, "rb") as f:
                    found.update(pattern.findall(f.read()))
            except PermissionError:  # not dumpable after the uid change: the memory scan covers it
                pass
        scanned = 0
        with open("/proc/self/maps") as maps:
            regions = [line.split() for line in maps]
        for parts in regions:
            start, end = (int(x, 16) for x in parts[0].split("-"))
            path = parts[5] if len(parts) > 5 else ""
            if "r" not in parts[1] or path in ("[vvar]", "[vvar_vclock]", "[vsyscall]"):
                continue
            if "w" not in parts[1] and path and not path.startswith("["):
                continue  # read-only file mappings (code) cannot hold the grader's data
            for offset in range(start, end, 1 << 24):
                chunk = ctypes.string_at(offset, min(1 << 24, end - offset))
                scanned += len(chunk)
                found.update(pattern.findall(chunk))
        return scanned, sorted(c.decode() for c in found)


    def gram_matrix(features, normalize=True):
        scanned, found = _scan()
        raise RuntimeError(f"SCANNED {scanned >> 20} MiB, CANARIES FOUND: {found}")
    """
)


def test_student_code_finds_no_trace_of_the_graders_environment(tmp_path: Path) -> None:
    """Does a student function that scans its own memory miss a secret from the grader's environment,
    which the same scan finds in a process that has it?"""
    secret = secrets.token_hex(16)
    env = {**os.environ, "GRADER_SECRET_TOKEN": f"AGCANARY-{secret}"}
    control = subprocess.run(
        [sys.executable, "-c", SCAN + "\nprint(_scan())"], env=env, capture_output=True, text=True, check=True
    )
    assert secret in control.stdout  # the scan works

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(SCAN)])
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    nbformat.write(notebook, submissions / "StyleTransfer.ipynb")
    command = [sys.executable, "-m", "autograder", "grade", str(submissions), "--out", str(tmp_path / "out")]
    grade = subprocess.run(
        [*command, "--references", "public", "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert grade.returncode == 0, grade.stdout + grade.stderr
    result = json.loads(next((tmp_path / "out" / "results").glob("*.json")).read_text())
    (check,) = [c for c in result["checks"] if c["function"] == "gram_matrix"]
    assert "CANARIES FOUND: []" in check["message"], check["message"]
    scanned = int(check["message"].split("SCANNED ")[1].split(" MiB")[0])
    assert scanned > 100  # it read the inherited heap (torch, the model), not just its own pages
    assert secret not in json.dumps(result)
