"""Hostile submissions graded by an ORDINARY user: the user-namespace isolation holds (issues 10 §2, 16 §6).

The batch grader runs as uid 65534 (``nobody``, through :mod:`unprivileged`), with hidden references
in its own home, its submissions, outputs and temporary folders inside the checkout (outside /tmp,
so that hiding them is the sandbox's doing, not the private /tmp's), and grades: the released stub, a
clean solution (alice), and cases that read the references, copy alice's function from disk, connect
to a server on 127.0.0.1, read the grader's command line and environment from /proc and SIGKILL
every process they can see, write into and delete the grader's files, unmount what hides the
references (also from a nested user namespace), leave processes behind, and fork-bomb. Each must
score exactly as the stub on the function it attacks, the others full marks, and the batch must
complete with every result.

Needs root (to create the unprivileged grader), util-linux, and unprivileged user namespaces
(Ubuntu 24.04+: ``sysctl kernel.apparmor_restrict_unprivileged_userns=0``); skipped otherwise,
with the reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from tests.grading_safety.corpus_run import STUB_CASE, listen, processes_with
from tests.grading_safety.host_traps import host_segment, leaked_segments, solutions_copy
from tests.grading_safety.safety_corpus import FUNCTIONS, HOSTILE
from tests.grading_safety.test_copy_classmate import _COPY_CLASSMATE
from tests.grading_safety.third_round import RUN_LOCK, SHM_BYTES, SOLUTIONS_COPY, SYSV_IPC
from tests.grading_safety.unprivileged import NOBODY, missing_tools, run_as_user
from tests.helpers.notebooks import REPO, replace_solution, solution_nb, stub_notebook

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="namespaces are Linux-only"),
]

#: Reads the grader's command line and environment from /proc (the hidden-reference path is on the
#: command line), prints what it found, then SIGKILLs every process it can see.
_GRADER_CMDLINE = """
import os, signal, torch
found = []
for entry in os.listdir("/proc"):
    if not entry.isdigit() or int(entry) == os.getpid():
        continue
    for name in ("cmdline", "environ"):
        try:
            with open(f"/proc/{entry}/{name}", "rb") as f:
                words = f.read().split(b"\\0")
        except OSError:
            continue
        for i, word in enumerate(words):
            if word == b"--hidden-references" and i + 1 < len(words):
                found.append(words[i + 1].decode())
            if word.startswith(b"AUTOGRADER_HIDDEN_REFERENCES="):
                found.append(word.split(b"=", 1)[1].decode())
print("found:", found, "{TOKEN}")
for entry in os.listdir("/proc"):
    if entry.isdigit() and int(entry) != os.getpid():
        try:
            os.kill(int(entry), signal.SIGKILL)
        except OSError:
            pass
for path in found:
    try:
        return torch.load(path, weights_only=True)["entries"]["content_loss"]["expected"]
    except Exception:
        pass
return None
"""

#: Tries to undo the hiding as namespace root: unmount what covers the references and the grader's
#: home, remount everything writable, and again inside a nested user + mount namespace; then reads.
_UNMOUNT = """
import ctypes, os, torch
libc = ctypes.CDLL(None, use_errno=True)
refs = "{REFS}"
targets = [refs, os.path.dirname(refs), os.path.dirname(os.path.dirname(refs)), "{ROOT}", "{OUT}"]
def undo():
    for target in targets:
        libc.umount2(target.encode(), 2)
    libc.mount(b"none", b"/", None, ctypes.c_ulong(32 | 0x1000 | 0x4000), None)  # rw again
    try:
        os.remove("{CANARY}")
    except OSError:
        pass
undo()
libc.unshare(0x10000000 | 0x00020000)  # a nested user + mount namespace (root again in there?)
undo()
try:
    return torch.load(refs, weights_only=True)["entries"]["content_loss"]["expected"]
except Exception:
    return None
"""

#: Fills the home folder (TMPDIR lies outside /tmp here) at load time, when a file may be large (a
#: call may write no more than its output), and remembers how much it wrote; the home is a private
#: tmpfs capped at Limits.file_mb (256 MiB).
_FILL_HOME_AT_LOAD = """
import os as _os
_written = 0
try:
    for _i in range(24):
        with open(_os.path.join(_os.path.expanduser("~"), f"fill-{_i}"), "wb") as _f:
            for _ in range(16):
                _f.write(b"x" * 2**20)
                _written += 1
except OSError:
    pass
"""
_FILL_HOME = """
import os
home = [line.split() for line in open("/proc/self/mountinfo") if os.path.expanduser("~") in line]
raise RuntimeError(f"wrote {_written} MiB; home on {[m[-3] for m in home]}")
"""

#: case -> hostile content_loss body (placeholders as in safety_corpus).
ATTACKS = {
    "read_references": HOSTILE["read_references"][1],
    "copy_classmate": _COPY_CLASSMATE,
    "network_connection": HOSTILE["network_connection"][1],
    "grader_cmdline_and_kill": _GRADER_CMDLINE,
    "tamper_files": HOSTILE["tamper_files"][1],
    "unmount_the_hiding": _UNMOUNT,
    "spawn_outliving_process": HOSTILE["spawn_outliving_process"][1],
    "fork_bomb": HOSTILE["fork_bomb"][1],
    "sysv_shared_memory": SYSV_IPC,
    "run_lock_files": RUN_LOCK,
    "solutions_copy_elsewhere": SOLUTIONS_COPY,
    "fill_home": _FILL_HOME,
}


@dataclass
class UnprivilegedRun:
    """One batch graded as ``nobody``: its exit, outputs and what the tripwires saw."""

    returncode: int
    stderr: str
    results: dict[str, dict]
    work: Path
    hidden: Path
    token: str
    canary: Path
    connections: list[bytes]
    secret: str


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root, to run the grader as another (unprivileged) user"
    if missing_tools():
        return f"needs util-linux tools {missing_tools()}"
    return None


def _write(path: Path, nb: nbformat.NotebookNode, values: dict[str, str]) -> None:
    for cell in nb.cells:
        for key, value in values.items():
            cell.source = cell.source.replace("{" + key + "}", value)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def unprivileged_run() -> Iterator[UnprivilegedRun]:
    """Grade the attacks as ``nobody`` with hidden references in its home; clean up everything after."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    token = f"unprivileged-{uuid.uuid4().hex[:12]}"
    work = REPO / f".grading-{token}"  # outside /tmp: hidden by the sandbox, not the tmpfs
    server, received = listen()
    traps = contextlib.ExitStack()
    secret = f"host-secret-{token}"
    try:
        home, tmp, submitted, out = (work / n for n in ("home", "tmp", "submitted", "out"))
        for folder in (home / "grading", tmp, submitted):
            folder.mkdir(parents=True)
        hidden = home / "grading" / "hidden.pt"
        shutil.copy(REPO / "autograder" / "references" / "public.pt", hidden)
        hidden.chmod(0o600)
        canary = work / "canary.txt"  # the grader's own file: its user could delete it
        canary.write_text("student code must not delete this\n")
        values = {
            "TOKEN": token,
            "OUT": str(out),
            "REPO": str(work),
            "CANARY": str(canary),
            "REFS": str(hidden),
            "PORT": str(server.getsockname()[1]),
            "ROOT": str(submitted),
            "COPY": str(traps.enter_context(solutions_copy(token))),
            "SHMID": str(traps.enter_context(host_segment(secret))),
            "SHM_BYTES": str(SHM_BYTES),
        }
        notebook = "StyleTransfer"
        _write(submitted / "alice" / notebook / f"{notebook}.ipynb", solution_nb(notebook), values)
        _write(submitted / STUB_CASE / notebook / f"{notebook}.ipynb", stub_notebook(notebook), values)
        for name, body in ATTACKS.items():
            nb = replace_solution(solution_nb(notebook), "content_loss", body.replace("{{}}", "{}"))
            if name == "fill_home":  # top-level code of the solution cell runs when the notebook loads
                cell = next(c for c in nb.cells if "def content_loss" in c.source)
                cell.source = _FILL_HOME_AT_LOAD + "\n\n" + cell.source
            _write(submitted / name / notebook / f"{notebook}.ipynb", nb, values)
        for path in [work, *work.rglob("*")]:
            os.chown(path, NOBODY, NOBODY, follow_symlinks=False)
        work.chmod(0o700)
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(home),
            "TMPDIR": str(tmp),
            "LANG": "C.UTF-8",
            "MPLBACKEND": "Agg",
            "COURSE_PROGRESS": "0",
        }
        readable = []
        for variable in ("COURSE_DATA_DIR", "COURSE_CACHE_DIR"):
            if os.environ.get(variable):
                env[variable] = os.environ[variable]
                readable.append(os.environ[variable])
        probe = run_as_user(
            [sys.executable, "-c", "from autograder.isolation.availability import probe; print(probe())"],
            env=env,
            cwd=work,
            readable=readable,
            timeout=120,
        )
        if "user namespace" not in probe.stdout:
            pytest.skip(f"unprivileged user namespaces are unavailable here: {probe.stdout}{probe.stderr}")
        command = [sys.executable, "-m", "autograder", "grade", str(submitted), "--out", str(out)]
        command += ["--references", "hidden", "--hidden-references", str(hidden)]
        command += ["--timeout", "8", "--workers", "1", "--quiet"]
        done = run_as_user(command, env=env, cwd=work, readable=readable, timeout=900)
        results = {}
        for path in (out / "results").glob("*.json"):
            data = json.loads(path.read_text(encoding="utf-8"))
            results[data["student"]] = data
        yield UnprivilegedRun(
            done.returncode, done.stderr, results, work, hidden, token, canary, received, secret
        )
    finally:
        traps.close()
        server.close()
        for pid in processes_with(token):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(work, ignore_errors=True)


def _points(result: dict, function: str) -> float:
    return sum(c["points"] for c in result["checks"] if c["function"] == function)


def _max(result: dict, function: str) -> float:
    return sum(c["max_points"] for c in result["checks"] if c["function"] == function)


def test_batch_completes_with_every_result(unprivileged_run: UnprivilegedRun) -> None:
    """Does the unprivileged grader survive every attack (none killed it) and write every result?"""
    assert unprivileged_run.returncode == 0, unprivileged_run.stderr[-3000:]
    assert set(unprivileged_run.results) == {"alice", STUB_CASE, *ATTACKS}
    for result in unprivileged_run.results.values():
        assert result["isolation"] == "user namespace", result["student"]
        assert not result["grader_error"], result["grader_error"]


@pytest.mark.parametrize("case", list(ATTACKS))
def test_attack_scores_as_the_stub(unprivileged_run: UnprivilegedRun, case: str) -> None:
    """Does each attacked content_loss score what the released stub scores, and the rest full marks?"""
    result = unprivileged_run.results[case]
    stub = unprivileged_run.results[STUB_CASE]
    detail = [(c["status"], c["message"][:300]) for c in result["checks"] if c["function"] == "content_loss"]
    assert _points(result, "content_loss") == _points(stub, "content_loss") == 0, detail
    for function in FUNCTIONS["StyleTransfer"][1:]:
        assert _points(result, function) == _max(result, function) > 0, (case, function)


def test_the_classmate_keeps_full_marks(unprivileged_run: UnprivilegedRun) -> None:
    """Is the clean notebook, graded in the same batch as the attacks, unaffected?"""
    alice = unprivileged_run.results["alice"]
    assert alice["score"] == alice["max_score"] > 0


def test_grader_command_line_and_environment_are_invisible(unprivileged_run: UnprivilegedRun) -> None:
    """Did the student process find no hidden-reference path in /proc (no grader process visible)?"""
    result = unprivileged_run.results["grader_cmdline_and_kill"]
    messages = " ".join(c["message"] + " " + c["output"] for c in result["checks"])  # what it printed
    assert "found: [] " + unprivileged_run.token in messages, messages[:2000]
    assert str(unprivileged_run.hidden) not in messages


def test_the_home_is_capped_and_ipc_and_locks_stay_private(unprivileged_run: UnprivilegedRun) -> None:
    """With TMPDIR outside /tmp, did filling the home stop at its private 256 MiB tmpfs (it took
    1 GiB of disk), and did no shared-memory segment, host secret or lock file leave the sandbox?"""
    text = json.dumps(unprivileged_run.results["fill_home"])
    match = re.search(r"wrote (\d+) MiB", text)
    assert match and int(match.group(1)) <= 256 and "home on ['tmpfs']" in text, text[:3000]
    assert leaked_segments(SHM_BYTES) == []
    assert not list(Path("/run/lock").glob(f"{unprivileged_run.token}*"))
    for result in unprivileged_run.results.values():
        assert unprivileged_run.secret not in json.dumps(result)


def test_nothing_leaks_out_of_the_sandbox(unprivileged_run: UnprivilegedRun) -> None:
    """No connection to 127.0.0.1, grader files intact, no process left behind?"""
    assert unprivileged_run.connections == []
    assert unprivileged_run.canary.exists(), "student code deleted the grader's file"
    assert not list(unprivileged_run.work.rglob(f"evil-{unprivileged_run.token}*"))
    assert all(r["score"] != 1000 for r in unprivileged_run.results.values())
    assert processes_with(unprivileged_run.token) == []
