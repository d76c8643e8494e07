"""Hundreds of hostile submissions in ONE worker: no grader error, no leaked process, folder or uid (slow).

Each submission is the released StyleTransfer notebook with one hostile ``gram_matrix`` (a JSON bomb
or garbage on the event pipe, a float8 return, a forged deep or float8 result file); the batch runs
in this process with short limits and then checks that the template has no child left, no
``autograder-sandbox-*`` folder is left in TMPDIR and no uid lock is still held.

A second test grades with 2 workers and TMPDIR outside /tmp, and student code reports the mode of
its own sandbox folder and how many other submissions' code it can read.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
import uuid
from pathlib import Path

import nbformat
import pytest

from autograder.batch_outputs import grade_path
from autograder.isolation import template_client
from autograder.isolation.uids import UID_LOCK_DIR, UID_RANGE
from autograder.settings import GradingSettings, Limits
from tests.helpers.notebooks import REPO, replace_solution, stub_notebook

pytestmark = [pytest.mark.slow, pytest.mark.linux]

#: How many hostile submissions one worker grades: 600 took 205 s on a quiet 2-core machine (0.34 s
#: each; ~2.5 s each when the cores are busy with other jobs); AUTOGRADER_HOSTILE_COUNT=70 for a quick run.
HOSTILE_COUNT = int(os.environ.get("AUTOGRADER_HOSTILE_COUNT", "600"))


#: Bodies of gram_matrix, one per kind of hostility (the top-level cell keeps a copy of the event fd).
HOSTILE_BODIES = {
    "event_bomb": """
        import os
        os.write(SAVED_EVT, b'{"kind": "call_done", "status": ' + b'[' * 100000 + b'\\n')
        os.write(SAVED_EVT, b'{"kind": "call_done", "status": ' + str(2**40).encode() + b'}\\n')
        return features
    """,
    "event_garbage": """
        import os
        os.write(SAVED_EVT, os.urandom(70000) + b'\\n' + b'x' * 2_000_000)
        return features
    """,
    "float8_return": """
        import torch
        return torch.zeros(2, 2, dtype=torch.float8_e4m3fn)
    """,
    "forged_float8": """
        import os, sys, torch
        request = sys._getframe(1).f_locals["request"]
        torch.save({"status": "ok", "value": torch.zeros(3, dtype=torch.float8_e5m2)}, request.result)
        os._exit(0)
    """,
    "forged_deep": """
        import os, sys, torch
        request = sys._getframe(1).f_locals["request"]
        value = []
        for _ in range(12):
            value = [value, value, value, value]
        torch.save({"status": "ok", "value": value, "args": {0: {"v": value}}}, request.result)
        os._exit(0)
    """,
}

#: A top-level (solution) cell that keeps a duplicate of the event pipe's write end, and bombs it
#: while the notebook loads for one kind of submission.
KEEP_EVT = """
import fcntl as _fcntl, os as _os, stat as _stat
SAVED_EVT = next(fd for fd in range(3, 64)
                 if _os.path.exists(f"/proc/self/fd/{fd}") and _stat.S_ISFIFO(_os.fstat(fd).st_mode)
                 and _fcntl.fcntl(fd, _fcntl.F_GETFL) & _os.O_WRONLY)
SAVED_EVT = _os.dup(SAVED_EVT)
"""

LOAD_BOMB = """
_os.write(SAVED_EVT, b'{"kind": "ready", "problems": ' + b'[' * 200000 + b'\\n')
"""


def _hostile(kind: str) -> nbformat.NotebookNode:
    nb = replace_solution(stub_notebook("StyleTransfer"), "gram_matrix", HOSTILE_BODIES.get(kind, "return 0"))
    code = KEEP_EVT + (LOAD_BOMB if kind == "load_bomb" else "")
    cell = nbformat.v4.new_code_cell(code, metadata={"nbgrader": {"solution": True, "grade_id": "keep_evt"}})
    nb.cells.insert(1, cell)
    return nb


def _template_children() -> list[int]:
    template = template_client._shared
    if template is None or template._proc is None:
        return []
    pid = template._proc.pid
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                children.append(int(entry))
    return children


def _ancestors(pid: int) -> set[int]:
    found = set()
    while pid > 1 and pid not in found:
        found.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return found


def _held_uid_locks() -> list[int]:
    """uids whose lease file is held open by this test process or one of its descendants (other
    graders on the machine, e.g. a colleague's test run, lease uids from the same folder)."""
    me = os.getpid()
    held = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or me not in _ancestors(int(entry)):
            continue
        try:
            fds = os.listdir(f"/proc/{entry}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{entry}/fd/{fd}")
            except OSError:
                continue
            if target.startswith(str(UID_LOCK_DIR) + "/") and target.endswith(".lock"):
                held.add(int(Path(target).stem))
    return sorted(uid for uid in held if uid in UID_RANGE)


@pytest.fixture
def private_tmpdir(monkeypatch: pytest.MonkeyPatch):
    """A TMPDIR outside /tmp (inside the ignored .cache/ of the checkout), removed afterwards."""
    import shutil

    folder = REPO / ".cache" / f"tmpdir-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    folder.chmod(0o755)
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_hundreds_of_hostile_submissions_in_one_worker(tmp_path: Path, private_tmpdir: Path) -> None:
    """After ~600 hostile notebooks in one worker: no grader error, no leaked process, sandbox folder
    or uid lease, and every hostile function scored zero while the others kept their stub status?"""
    kinds = ["load_bomb", *HOSTILE_BODIES]
    root = tmp_path / "submitted"
    notebooks = {kind: _hostile(kind) for kind in kinds}
    for i in range(HOSTILE_COUNT):
        kind = kinds[i % len(kinds)]
        path = root / f"s{i:04d}-{kind}" / "StyleTransfer" / "StyleTransfer.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(notebooks[kind], path)
    limits = Limits(timeout_s=5, setup_timeout_s=20, chunk_timeout_s=5)
    start = time.perf_counter()
    run = grade_path(
        root, tmp_path / "out", GradingSettings("public", limits=limits), workers=1, progress=False
    )
    seconds = time.perf_counter() - start
    print(f"{HOSTILE_COUNT} hostile submissions in one worker: {seconds:.0f} s")
    assert len(run.results) == HOSTILE_COUNT
    assert [r.student for r in run.results if r.grader_error] == []
    for result in run.results:
        checks = {c.function: c for c in result.checks}
        assert checks["gram_matrix"].points == 0, (result.student, checks["gram_matrix"].message)
        assert result.score == 0
        if result.student.endswith("load_bomb"):
            assert any("not a grader message" in p for p in result.problems), result.problems
    assert _template_children() == []
    assert list(private_tmpdir.glob("autograder-sandbox-*")) == []
    assert _held_uid_locks() == []


SPY = """
    import glob, os, stat
    root = os.path.dirname(os.getcwd())
    mode = stat.S_IMODE(os.stat(root).st_mode)
    others = 0
    for path in glob.glob(os.path.join(os.path.dirname(root), "autograder-sandbox-*", "in", "chunks.json")):
        if not path.startswith(root + "/"):
            try:
                open(path).read()
                others += 1
            except OSError:
                pass
    print(f"SPY root={root} mode={mode:o} others={others}")
    return features
"""


def test_sandbox_folders_are_private_with_two_workers_outside_tmp(
    tmp_path: Path, private_tmpdir: Path
) -> None:
    """With TMPDIR outside /tmp and 2 workers, is each sandbox folder closed to others (no world
    access), and can no student read another submission's code?"""
    root = tmp_path / "submitted"
    nb = replace_solution(stub_notebook("StyleTransfer"), "gram_matrix", SPY)
    for i in range(6):
        path = root / f"spy{i}" / "StyleTransfer" / "StyleTransfer.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
    run = grade_path(
        root,
        tmp_path / "out",
        GradingSettings("public", limits=Limits(timeout_s=10)),
        workers=2,
        progress=False,
    )
    reports = [
        re.search(r"SPY root=(\S+) mode=(\d+) others=(\d+)", c.output)  # what it printed
        for r in run.results
        for c in r.checks
        if c.function == "gram_matrix"
    ]
    assert len(reports) == 6 and all(reports), [c.message for r in run.results for c in r.checks]
    for match in reports:
        assert match.group(1).startswith(str(private_tmpdir)), match.group(1)
        assert int(match.group(2), 8) & 0o007 == 0, match.group(2)
        assert match.group(3) == "0"
    assert list(private_tmpdir.glob("autograder-sandbox-*")) == []
