"""Tests of autograder.isolation.sandbox: isolation, limits and safe results of calls into student code.

One student process is started per module (loading torch and the model takes seconds); each call
forks from it, so the tests stay fast and also show that nothing leaks from one call to the next.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
import time
from collections.abc import Iterator

import pytest
import torch

from autograder.isolation.sandbox import Sandbox
from autograder.notebook_io.extraction import CodeChunk
from autograder.runner import MODEL, Call
from autograder.settings import Limits

#: Starts the grader's student processes: Linux only (skipped elsewhere).
pytestmark = pytest.mark.linux

STUDENT_CODE = textwrap.dedent(
    """
    import os, sys, time
    import torch
    import matplotlib.pyplot as plt  # imports stdlib modules the student process had not loaded yet

    def gram(x):
        return x.flatten(2) @ x.flatten(2).transpose(1, 2)

    def saliency(X, y, model):
        X = X.clone().requires_grad_()
        model(X).gather(1, y[:, None]).sum().backward()
        return X.grad.abs().amax(1)

    def add_one(img):
        img += 1

    def loop():
        while True:
            pass

    def snooze():
        time.sleep(10**6)

    def os_exit():
        os._exit(0)

    def sys_exit():
        sys.exit(0)

    def kill_self():
        os.kill(os.getpid(), 9)

    def allocate():
        return torch.ones(50 * 2**30, dtype=torch.uint8)

    def chatter():
        while True:
            print("x" * 1000)

    def chatty_but_right(x):
        for _ in range(120):
            print("y" * 999)
            print("z" * 999, file=sys.stderr)
        sys.stdout.write("w" * 50_000)
        return x * 2

    def divide():
        return 1 / 0

    def grad_off():
        torch.set_grad_enabled(False)
        torch.set_default_dtype(torch.float64)
        torch.manual_seed(123)
        return True

    def state():
        dtype = str(torch.get_default_dtype())
        return torch.is_grad_enabled(), dtype, torch.rand(1).item(), torch.get_num_threads()

    def corrupt_model(model):
        with torch.no_grad():
            for p in model.parameters():
                p.zero_()
        return model(torch.zeros(1, 3, 32, 32)).abs().sum().item()

    def model_output(model):
        return model(torch.zeros(1, 3, 32, 32)).abs().sum().item()

    def connect():
        import socket, encodings.idna
        with socket.socket() as s:
            s.settimeout(2)
            s.connect(("1.1.1.1", 80))
        return "connected"

    def whoami():
        return {"uid": os.getuid(), "cwd": os.getcwd(), "env": dict(os.environ)}

    def listdir(path):
        try:
            return sorted(os.listdir(path))
        except OSError as exc:
            return f"refused: {exc.strerror}"

    def write_file(path):
        try:
            with open(path, "w") as f:
                f.write("tampered")
            return "written"
        except OSError as exc:
            return f"refused: {exc.strerror}"

    def spawn():
        import subprocess
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1234)"], start_new_session=True)
        return os.getpid()

    class Liar(float):
        def __eq__(self, other):
            return True

    def liar():
        return Liar(0.0)

    def liar_in_list():
        return [torch.zeros(1), object()]

    print("loaded")
    """
)


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    """A sandbox holding the student code above, with short limits."""
    chunks = [CodeChunk("cell 3 (student)", STUDENT_CODE)]
    with Sandbox(chunks, Limits(timeout_s=3, output_bytes=2000)) as sandbox:
        yield sandbox


def test_plain_call_returns_tensor(box: Sandbox) -> None:
    """Does a plain function return its tensor, computed in the student process?"""
    x = torch.randn(1, 3, 4, 4)
    outcome = box.run("gram", Call((x,)))
    assert outcome.status == "ok", outcome.message
    torch.testing.assert_close(outcome.value, x.flatten(2) @ x.flatten(2).transpose(1, 2))
    assert box.setup_problems == []
    assert "loaded" in box.setup_output


def test_model_sentinel_gives_pristine_model(box: Sandbox, model: torch.nn.Module) -> None:
    """Is MODEL replaced by a fresh model, even after a call that zeroed its weights?"""
    before = box.run("model_output", Call((MODEL,)))
    corrupted = box.run("corrupt_model", Call((MODEL,)))
    after = box.run("model_output", Call((MODEL,)))
    assert corrupted.value != pytest.approx(before.value)
    assert after.value == pytest.approx(before.value)
    assert before.value == pytest.approx(model(torch.zeros(1, 3, 32, 32)).abs().sum().item(), rel=1e-5)


def test_saliency_with_model_matches_grader(box: Sandbox, model: torch.nn.Module) -> None:
    """Does a gradient through the model computed in the sandbox equal the grader's own?"""
    X, y = torch.randn(1, 3, 32, 32), torch.tensor([1])
    outcome = box.run("saliency", Call((X, y, MODEL)))
    Xg = X.clone().requires_grad_()
    model(Xg).gather(1, y[:, None]).sum().backward()
    torch.testing.assert_close(outcome.value, Xg.grad.abs().amax(1), rtol=1e-4, atol=1e-6)


def test_in_place_argument_captured(box: Sandbox) -> None:
    """Are in-place changes to a captured argument sent back, without touching the grader's copy?"""
    img = torch.zeros(3)
    outcome = box.run("add_one", Call((img,), capture_args=(0,)))
    assert outcome.status == "ok"
    assert outcome.value is None
    torch.testing.assert_close(outcome.args[0]["value"], torch.ones(3))
    assert img.sum() == 0


def test_global_torch_state_does_not_leak(box: Sandbox) -> None:
    """Does changing grad mode, default dtype and seed in one call leave the next call untouched?"""
    first = box.run("state", Call(()))
    assert box.run("grad_off", Call(())).status == "ok"
    second = box.run("state", Call(()))
    assert first.value == second.value
    assert first.value[:2] == (True, "torch.float32")
    assert first.value[3] == 1


@pytest.mark.parametrize(
    ("function", "status", "words"),
    [
        ("loop", "timeout", "did not finish within 3 s"),
        ("os_exit", "crashed", "exited with code 0"),
        ("sys_exit", "crashed", "sys.exit(0)"),
        ("kill_self", "crashed", "SIGKILL"),
        ("allocate", "memory", "ran out of memory"),
        ("divide", "error", "ZeroDivisionError"),
        ("liar", "bad_output", "only tensors"),
        ("liar_in_list", "bad_output", "only tensors"),
        ("no_such_function", "missing", "not defined"),
    ],
)
def test_failures_cost_only_the_call(box: Sandbox, function: str, status: str, words: str) -> None:
    """Does each kind of runaway or broken call end with the right status, and the next call still work?"""
    outcome = box.run(function, Call(()))
    assert outcome.status == status, outcome.message
    assert words in outcome.message
    assert outcome.seconds < 10
    assert box.run("gram", Call((torch.ones(1, 1, 2, 2),))).status == "ok"


def test_error_message_names_student_cell(box: Sandbox) -> None:
    """Does an exception's message show the student's cell and line, not the worker's frames?"""
    message = box.run("divide", Call(())).message
    assert "cell 3 (student), line" in message
    assert "return 1 / 0" in message
    assert "worker.py" not in message


def test_output_is_captured_and_capped(box: Sandbox) -> None:
    """Is printed output kept up to the cap, with the rest dropped, however much is printed?"""
    outcome = box.run("chatter", Call(()))
    assert outcome.status in ("error", "timeout")
    assert outcome.output.startswith("x" * 1000)
    assert len(outcome.output) < 2000 + 200
    assert "[output truncated" in outcome.output


def test_printing_past_the_cap_is_dropped_never_fatal(box: Sandbox) -> None:
    """Does a correct function that prints 290 kB of debug output still return its value, the output
    cut at the cap (print raised `OSError: File too large` and the function scored 0)?"""
    outcome = box.run("chatty_but_right", Call((torch.ones(2),)))
    assert outcome.status == "ok", outcome.message
    assert torch.equal(outcome.value, torch.full((2,), 2.0))
    assert outcome.output.startswith("y" * 999) and "[output truncated" in outcome.output
    assert len(outcome.output) < 2000 + 200


def test_environment_is_scrubbed(box: Sandbox) -> None:
    """Does the student process see none of the grader's environment, and start in its own folder?"""
    os.environ["AUTOGRADER_TEST_SECRET"] = "hush"
    value = box.run("whoami", Call(())).value
    assert "AUTOGRADER_TEST_SECRET" not in value["env"]
    assert "COURSE_DATA_DIR" not in value["env"]
    assert value["cwd"] != os.getcwd()


def test_protections_are_reported(box: Sandbox) -> None:
    """Are the active limits and protections recorded?"""
    assert box.protections["RLIMIT_AS"] == str(box.limits.memory_mb * 2**20)
    assert "timeout_s" in box.protections


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="namespaces and the uid drop need root")


@needs_root
def test_root_protections(box: Sandbox, tmp_path) -> None:
    """As root: no network, no privileges, hidden references and solutions, read-only repository?"""
    assert box.protections["pid_namespace"] == "on"
    assert box.run("whoami", Call(())).value["uid"] == box.uid != 0
    net = box.run("connect", Call(()))
    assert net.status == "error" and "unreachable" in net.message.lower()
    from autograder.settings import REPO_ROOT as REPO

    assert box.run("listdir", Call((str(REPO / "solutions"),))).value.startswith("refused")
    assert box.run("listdir", Call((str(REPO / "autograder" / "references"),))).value.startswith("refused")
    assert box.run("write_file", Call((str(REPO / "tampered.txt"),))).value.startswith("refused")
    assert not (REPO / "tampered.txt").exists()
    assert box.run("write_file", Call((str(tmp_path / "x.txt"),))).value.startswith("refused")


@needs_root
def test_private_tmp_and_no_planted_files(box: Sandbox) -> None:
    """As root: is /tmp a private size-limited tmpfs, and can the student not create files in out/?"""
    assert "/tmp" in box.protections["private_tmp"]
    assert box.run("write_file", Call(("/tmp/student-file.txt",))).value == "written"
    assert not os.path.exists("/tmp/student-file.txt")
    assert box.folder is not None
    assert box.run("write_file", Call((str(box.folder / "out" / "planted.pt"),))).value.startswith("refused")


@needs_root
def test_escaped_processes_are_killed(box: Sandbox) -> None:
    """Is a process the student started in its own session killed when the call ends?"""
    assert box.run("spawn", Call(())).status == "ok"
    time.sleep(0.2)
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    assert "time.sleep(1234)" not in ps


def test_call_overhead_is_small(box: Sandbox) -> None:
    """Is a call (fork, fresh inputs, result back) well under a second?"""
    start = time.perf_counter()
    for _ in range(3):
        box.run("gram", Call((torch.ones(1, 2, 3, 3),)))
    assert (time.perf_counter() - start) / 3 < 1.0


@pytest.mark.slow
def test_setup_failures_are_recorded() -> None:
    """Does a chunk that raises or exits at load time get recorded while the others still run?"""
    chunks = [
        CodeChunk("cell 1", "import numpy_does_not_exist"),
        CodeChunk("cell 2", "raise ValueError('boom at import')"),
        CodeChunk("cell 3", "import sys\nsys.exit(3)"),
        CodeChunk("cell 4", "def f():\n    return 42"),
    ]
    with Sandbox(chunks, Limits(timeout_s=5)) as sandbox:
        assert sandbox.run("f", Call(())).value == 42
    problems = "\n".join(sandbox.setup_problems)
    assert "cell 1" in problems and "ModuleNotFoundError" in problems
    assert "cell 2" in problems and "boom at import" in problems
    assert "cell 3" in problems and "sys.exit(3)" in problems


@pytest.mark.slow
def test_student_process_killed_at_load_is_reported() -> None:
    """Does a notebook whose top-level code kills its process give 'crashed' calls, not a grader crash?"""
    chunks = [CodeChunk("cell 1", "import os\nos._exit(1)"), CodeChunk("cell 2", "def f():\n    return 1")]
    with Sandbox(chunks, Limits(timeout_s=5)) as sandbox:
        outcome = sandbox.run("f", Call(()))
    assert outcome.status == "crashed"
    assert "could not be loaded" in outcome.message


def test_close_releases_folder_and_uid_even_when_stopping_fails(tmp_path, monkeypatch) -> None:
    """Does close() remove the sandbox folder and give the uid back although stopping the process raised?"""
    from autograder.isolation import folders
    from autograder.isolation.uids import UidLease

    monkeypatch.setattr(folders.tempfile, "tempdir", str(tmp_path))
    box = Sandbox([])
    box._folder = folders.SandboxFolder(None)
    made = box.folder
    read_end, write_end = os.pipe()
    os.close(read_end)
    box._lease = lease = UidLease(61_000, write_end)

    def broken_stop() -> None:
        raise OSError("the template is gone")

    monkeypatch.setattr(box, "_stop", broken_stop)
    with pytest.raises(OSError):
        box.close()
    assert made is not None and not made.exists()
    assert lease.fd is None and box._lease is None


def test_sandbox_folder_is_private(tmp_path, monkeypatch) -> None:
    """Is the sandbox folder closed to other users (no world bits), its code file too, before any start?"""
    import stat
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    box = Sandbox([CodeChunk("cell 1", "x = 1")])
    monkeypatch.setattr(box, "_start", lambda: None)
    try:
        box._open()
        root = box.folder
        for path in (root, root / "in", root / "in" / "chunks.json", root / "home", root / "out"):
            assert stat.S_IMODE(path.stat().st_mode) & 0o007 == 0, path
    finally:
        box.close()
    assert list(tmp_path.glob("autograder-sandbox-*")) == []
