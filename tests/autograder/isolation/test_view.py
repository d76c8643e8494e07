"""What the student process may see (autograder.isolation.view) and what it then sees (issue 21 §4, §6).

The policy tests are fast; the others start a sandbox and look from inside it, in whichever mode this
machine offers (as root here and in CI; tests/grading_safety/test_unprivileged.py does it as an
ordinary user).
"""

from __future__ import annotations

import os
import sys
import tempfile
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from autograder.isolation.sandbox import Sandbox
from autograder.isolation.view import course_private_paths, hidden_paths, visible_paths
from autograder.notebook_io.extraction import CodeChunk
from autograder.runner import Call
from autograder.settings import Limits
from tests.grading_safety.host_traps import host_segment, leaked_segments, solutions_copy
from tests.helpers.notebooks import REPO


def _inside(path: str, folder: Path) -> bool:
    return path == str(folder) or path.startswith(str(folder) + "/")


def test_the_view_is_python_the_packages_and_the_course_code() -> None:
    """Does the view hold Python, the environment and the two course packages, and nothing of the
    checkout around them (solutions, tests, .git, the checkout itself)?"""
    visible = [os.path.realpath(p) for p in visible_paths()]
    for needed in (sys.prefix, REPO / "autograder", REPO / "course_utils", os.path.realpath(sys.executable)):
        assert any(_inside(os.path.realpath(needed), Path(v)) for v in visible), needed
    for secret in (REPO, REPO / "solutions", REPO / "tests", REPO / ".git", REPO / "README.md"):
        assert not any(_inside(str(secret), Path(v)) for v in visible if v != os.path.realpath(sys.prefix)), (
            secret
        )


def test_a_system_python_shows_its_packages_not_its_whole_prefix(tmp_path: Path, monkeypatch) -> None:
    """Without a venv (a system Python, prefix /usr), is only its site-packages visible, not all of
    /usr; and is a conda environment visible whole (its shared libraries live there)?"""
    from autograder.isolation import view

    site = tmp_path / "usr" / "lib" / "python3" / "dist-packages"
    site.mkdir(parents=True)
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "usr"))
    monkeypatch.setattr(sys, "base_prefix", str(tmp_path / "usr"))
    monkeypatch.setattr(sys, "path", ["", str(site), str(tmp_path / "usr" / "lib" / "python3.11")])
    assert view._environment() == [str(site)]
    (tmp_path / "usr" / "conda-meta").mkdir()
    assert view._environment() == [str(tmp_path / "usr")]


def test_hidden_paths_cover_what_could_overlap_the_view(tmp_path: Path) -> None:
    """Are the course roots (given, Gradescope's, the checkout), the package's references, the
    reference file, the outputs and the private parts of a graded nbgrader course all hidden?"""
    for name in ("source", "submitted/ann/StyleTransfer", "course/source"):
        (tmp_path / name).mkdir(parents=True)
    (tmp_path / "gradebook.db").touch()
    hidden = hidden_paths([tmp_path / "hidden.pt", tmp_path / "submitted"], [tmp_path / "source"])
    for path in ("source", "hidden.pt", "submitted", "gradebook.db"):
        assert str(tmp_path / path) in hidden, path
    assert str(REPO) in hidden and str(REPO / "autograder" / "references") in hidden


def test_course_private_paths_finds_the_course_around_submitted(tmp_path: Path) -> None:
    """Are the course's solutions, gradebook and autograded notebooks found from any graded path in it?"""
    for name in ("source", "autograded", "submitted/ann/StyleTransfer"):
        (tmp_path / name).mkdir(parents=True)
    (tmp_path / "gradebook.db").touch()
    expected = [tmp_path / "source", tmp_path / "autograded", tmp_path / "gradebook.db"]
    for graded in (tmp_path, tmp_path / "submitted", tmp_path / "submitted" / "ann" / "StyleTransfer"):
        assert sorted(course_private_paths(graded)) == sorted(expected)
    assert course_private_paths(tmp_path.parent / "elsewhere") == []


_LOOK = textwrap.dedent(
    """
    import ctypes, os

    def listdir(path):
        try:
            return sorted(os.listdir(path))
        except OSError as exc:
            return "refused: " + exc.strerror

    def read(path):
        try:
            with open(path, "rb") as f:
                return f.read(200).decode(errors="replace")
        except OSError as exc:
            return "refused: " + exc.strerror

    def write(path, mib):
        # in files of 16 kB: a call may write no larger file (RLIMIT_FSIZE keeps its output small)
        try:
            for i in range(mib * 64):
                with open(f"{path}.{i}", "wb") as f:
                    f.write(b"x" * 2**14)
            return "written"
        except OSError as exc:
            return "refused: " + exc.strerror

    def ipc(shmid):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.shmat.restype = ctypes.c_void_p
        libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
        address = libc.shmat(shmid, None, 0o10000)
        seen = "" if address in (None, ctypes.c_void_p(-1).value) else ctypes.string_at(address, 40).decode()
        for _ in range(3):
            libc.shmget(0, 7_654_321, 0o1666)
        return seen, os.readlink("/proc/self/ns/ipc")
    """
)


@pytest.fixture(scope="module")
def outside_tmp() -> Iterator[Path]:
    """A TMPDIR outside /tmp (inside the checkout, which the student never sees), removed after."""
    folder = REPO / f".view-test-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    old = tempfile.tempdir
    tempfile.tempdir = str(folder)
    try:
        yield folder
    finally:
        tempfile.tempdir = old
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def box(outside_tmp: Path) -> Iterator[Sandbox]:
    """A sandbox whose folder lies outside /tmp, with 8 MiB private temporary folders."""
    with Sandbox([CodeChunk("cell 1", _LOOK)], Limits(timeout_s=20, file_mb=8)) as sandbox:
        if not sandbox.protections.get("view", "").startswith("default-deny"):
            pytest.skip(f"no default-deny view here: {sandbox.protections}")
        yield sandbox


@pytest.mark.linux
def test_the_student_sees_nothing_outside_the_view(box: Sandbox) -> None:
    """Is a world-readable copy of the solutions elsewhere on the machine, the checkout, /run and the
    grader's outputs out of reach (the student process saw everything but a deny-list)?"""
    token = uuid.uuid4().hex[:8]
    with solutions_copy(token) as copy:
        assert box.run("read", Call((str(copy),))).value.startswith("refused")
    secret = Path.home() / f".view-test-secret-{token}"
    secret.write_text("the grader's own file")
    try:
        assert box.run("read", Call((str(secret),))).value.startswith("refused")
    finally:
        secret.unlink()
    for path in (REPO / "solutions", REPO / ".git", Path("/run/systemd"), Path("/srv"), Path("/home")):
        assert box.run("listdir", Call((str(path),))).value.startswith("refused"), path
    assert box.run("read", Call((str(REPO / "README.md"),))).value.startswith("refused")
    top = set(box.run("listdir", Call(("/",))).value)
    assert top <= {"dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "run", "tmp", "usr", "var"} | {
        Path(p).parts[1] for p in visible_paths()
    } | {Path(str(box.folder)).parts[1]}
    assert box.run("read", Call((str(REPO / "autograder" / "references" / "public.pt"),))).value.startswith(
        "refused"
    )
    assert set(box.run("listdir", Call(("/etc",))).value) <= {
        "group", "hosts", "ld.so.cache", "localtime", "nsswitch.conf", "passwd",
    }  # fmt: skip


@pytest.mark.linux
def test_ipc_and_lock_folders_are_private(box: Sandbox) -> None:
    """Can the student neither read a world-readable System V segment of the host nor leave segments
    or /run/lock, /var/lock files behind (they outlived the batch)?"""
    token = f"view-test-{uuid.uuid4().hex[:8]}"
    with host_segment(f"secret-{token}") as shmid:
        seen, namespace = box.run("ipc", Call((shmid,))).value
    assert seen == "" and namespace != os.readlink("/proc/self/ns/ipc")
    assert leaked_segments(7_654_321) == []
    for folder in ("/run/lock", "/var/lock"):
        assert box.run("write", Call((f"{folder}/{token}", 1))).value == "written"
        assert not list(Path(folder).glob(f"{token}*"))


@pytest.mark.linux
def test_the_home_is_capped_wherever_tmpdir_is(box: Sandbox, outside_tmp: Path) -> None:
    """With the grader's TMPDIR outside /tmp, is the student's home a capped private tmpfs (it took
    1 GiB of the grader's disk), and are /tmp and /dev/shm capped too?"""
    assert box.folder is not None and str(box.folder).startswith(str(outside_tmp))
    home = str(box.folder / "home")
    assert box.run("write", Call((f"{home}/a", 5))).value == "written"
    assert box.run("write", Call((f"{home}/b", 5))).value == "refused: No space left on device"
    assert list((box.folder / "home").iterdir()) == []  # nothing reached the grader's disk
    for folder in ("/tmp", "/var/tmp", "/dev/shm"):
        assert box.run("write", Call((f"{folder}/a", 5))).value == "written"
        assert box.run("write", Call((f"{folder}/b", 5))).value == "refused: No space left on device"
