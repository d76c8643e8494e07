"""Gradescope: results.json (partial credit, visible upload check, failures), its schema check, which
upload is graded, the zip's contents, setup.sh's install commands, and the hidden paths."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder.functions import function_names
from autograder.gradescope.bundle import build_zip, pinned_requirements
from autograder.gradescope.results import failure_results, gradescope_results
from autograder.gradescope.run import run_gradescope
from autograder.gradescope.schema import validate_results
from autograder.gradescope.upload import Upload, select_upload
from autograder.grading.results import CheckResult, SubmissionResult
from autograder.isolation.mounts import plan_view
from autograder.isolation.view import hidden_paths
from autograder.settings import GRADESCOPE_ROOT_ENV
from tests.helpers.notebooks import REPO

STUDENT_ST = REPO / "notebooks" / "StyleTransfer.ipynb"
STUDENT_NV = REPO / "notebooks" / "NetworkVisualization.ipynb"


def _style_result() -> SubmissionResult:
    checks = [
        CheckResult("content_loss", "hidden", 2.0, 2.0, "passed", "rel_error 1e-08 < 1e-03"),
        CheckResult("gram_matrix", "hidden", 1.5, 3.0, "partial", "looks like: not normalized", "Divide"),
        CheckResult("style_loss", "hidden", 0.0, 3.0, "failed", "rel_error 9e-01 >= 1e-03", "Sum over"),
        CheckResult("tv_loss", "hidden", 0.0, 3.0, "not_implemented", "NOT IMPLEMENTED YET"),
    ]
    return SubmissionResult("s", "StyleTransfer", 3.5, 11.0, checks, [], "StyleTransfer.ipynb")


def _upload() -> Upload:
    return Upload(files=["StyleTransfer.ipynb"], graded={"StyleTransfer": "StyleTransfer.ipynb"})


def _tests_by_function(data: dict) -> dict[str, dict]:
    return {t["name"].split(": ")[-1]: t for t in data["tests"]}


def test_partial_credit_is_shown_as_passed_with_its_points() -> None:
    """Is a partly correct function 'passed' (no red cross on earned points), and only 0 points 'failed'?"""
    tests = _tests_by_function(gradescope_results([_style_result()], upload=_upload()))
    assert tests["content_loss"]["status"] == "passed"
    assert tests["gram_matrix"]["status"] == "passed"
    assert tests["gram_matrix"]["output"].startswith("**Partial credit: 1.5 / 3 points**")
    assert tests["style_loss"]["status"] == "failed" and tests["tv_loss"]["status"] == "failed"
    assert "**Hint:** Sum over" in tests["style_loss"]["output"]


def test_upload_check_is_visible_at_once_and_scores_keep_their_visibility() -> None:
    """Is what was uploaded visible immediately, while scores and feedback stay after_published?"""
    data = gradescope_results([_style_result()], upload=_upload(), seconds=4.4)
    first = data["tests"][0]
    assert first["number"] == "0" and first["visibility"] == "visible" and first["max_score"] == 0
    assert "Found `StyleTransfer.ipynb`: graded as **StyleTransfer**, 4 functions graded" in first["output"]
    assert data["output"] == first["output"]
    assert data["visibility"] == "after_published"
    assert {t["visibility"] for t in data["tests"][1:]} == {"after_published"}
    assert [t["number"] for t in data["tests"]] == ["0", "2.1", "2.2", "2.3", "2.4"]
    assert {t["output_format"] for t in data["tests"]} == {"md"} and data["output_format"] == "md"
    assert data["execution_time"] == 4 and data["score"] == 3.5
    assert validate_results(data) == []


def test_missing_and_ignored_notebooks_are_named() -> None:
    """Does the visible message say which notebook is missing and which uploaded file was not graded?"""
    upload = Upload(files=["hw.pdf"], missing=["StyleTransfer"], ignored=["notes.ipynb (not graded)"])
    data = gradescope_results([], upload=upload)
    assert data["tests"][0]["status"] == "failed"
    assert "**Missing: no StyleTransfer notebook**" in data["output"]
    assert "`notes.ipynb (not graded)`" in data["output"] and "`hw.pdf`" in data["output"]


def test_grader_failure_is_visibly_not_a_grade() -> None:
    """Does a grader failure say 'not your grade' to the student, at once, with the cause for staff?"""
    data = failure_results("TemplateError: could not start", seconds=2.0)
    assert validate_results(data) == []
    assert data["visibility"] == "visible" and "not your grade" in data["output"]
    assert data["extra_data"]["grader_error"].startswith("TemplateError")


def test_schema_check_finds_each_kind_of_mistake() -> None:
    """Does the schema check catch unknown keys, bad values, scores above max and repeated numbers?"""
    bad = {
        "score": "11",
        "visibility": "public",
        "max_points": 3,
        "tests": [
            {"name": "a", "score": 4.0, "max_score": 3.0, "status": "partial", "number": "1"},
            {"name": "b", "output_format": "markdown", "number": "1"},
        ],
    }
    problems = "\n".join(validate_results(bad))
    for expected in (
        "unknown top-level key 'max_points'",
        "score must be a finite number",
        "visibility must be one of",
        "status must be one of",
        "score 4.0 is above max_score 3.0",
        "output_format must be one of",
        "test numbers used twice: 1",
    ):
        assert expected in problems
    assert validate_results({"tests": [{"name": "x"}]}) == ["no top-level score, and not every test has one"]
    assert validate_results([]) == ["results.json must be a JSON object"]


def test_misnamed_and_extra_uploads(tmp_path) -> None:
    """Is 'StyleTransfer (1).ipynb' graded as StyleTransfer, the exact name preferred when both are
    there, and a notebook of another assignment or of none reported as not graded?"""
    upload_dir = tmp_path / "submission"
    upload_dir.mkdir()
    shutil.copy(STUDENT_ST, upload_dir / "StyleTransfer (1).ipynb")
    shutil.copy(STUDENT_NV, upload_dir / "NetworkVisualization.ipynb")
    (upload_dir / "notes.ipynb").write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "cells": []}))
    upload, staged = select_upload(upload_dir, tmp_path / "work", ["StyleTransfer"])
    assert upload.graded == {"StyleTransfer": "StyleTransfer (1).ipynb"}
    assert sorted(p.name for p in staged.iterdir()) == ["StyleTransfer.ipynb"]
    assert any(i.startswith("NetworkVisualization.ipynb (NetworkVisualization;") for i in upload.ignored)
    assert any(i.startswith("notes.ipynb") for i in upload.ignored)

    shutil.copy(STUDENT_ST, upload_dir / "StyleTransfer.ipynb")
    upload, _ = select_upload(upload_dir, tmp_path / "work", ["StyleTransfer", "NetworkVisualization"])
    assert upload.graded == {
        "StyleTransfer": "StyleTransfer.ipynb",
        "NetworkVisualization": "NetworkVisualization.ipynb",
    }
    assert any("StyleTransfer (1).ipynb (another StyleTransfer notebook" in i for i in upload.ignored)
    assert upload.missing == []


def test_an_uploaded_symlink_is_never_followed(tmp_path, monkeypatch) -> None:
    """Does a symbolic link uploaded as StyleTransfer.ipynb (to the solution) score 0 as unreadable,
    listed as a link, instead of grading its target (11/11 while saying links are never followed)?"""
    import autograder.gradescope.run as run

    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    (root / "source" / "gradescope.json").write_text(
        json.dumps({"assignments": ["StyleTransfer"], "references": "public", "visibility": "visible"})
    )
    upload_dir = root / "submission"
    upload_dir.mkdir()
    (upload_dir / "StyleTransfer.ipynb").symlink_to(REPO / "solutions" / "StyleTransfer.ipynb")
    (upload_dir / "linked").symlink_to(REPO / "solutions", target_is_directory=True)
    upload, staged = select_upload(upload_dir, tmp_path / "work", ["StyleTransfer"])
    assert upload.unreadable == ["StyleTransfer"] and list(staged.iterdir()) == []
    assert upload.files == [
        "StyleTransfer.ipynb (a symbolic link, not followed)",
        "linked (a symbolic link, not followed)",
    ]
    graded = []
    monkeypatch.setattr(run, "_protections", lambda settings: {})
    monkeypatch.setattr(
        "autograder.grading.batch.grade_submissions",
        lambda *a, **k: graded.append(a) or pytest.fail("graded"),
    )
    assert run_gradescope(root) == 0
    data = json.loads((root / "results" / "results.json").read_text())
    assert data["score"] == 0 and validate_results(data) == [] and graded == []
    assert "symbolic link" in data["output"] and "could not be read" in data["output"]
    assert all(t["score"] == 0 for t in data["tests"])


def test_empty_upload_is_missing_everything(tmp_path) -> None:
    """Does an empty submission folder give 'missing' for every expected notebook?"""
    (tmp_path / "submission").mkdir()
    upload, staged = select_upload(tmp_path / "submission", tmp_path / "work", ["StyleTransfer"])
    assert upload.missing == ["StyleTransfer"] and upload.files == [] and not list(staged.iterdir())
    assert "holds no files" in gradescope_results([], upload=upload)["output"]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return build_zip(tmp_path_factory.mktemp("zip") / "autograder.zip", public_references=True)


def test_zip_holds_what_grading_needs_and_no_solutions_or_tests(bundle) -> None:
    """Does the zip hold setup.sh, run_autograder (executable), the package and the pins, and no
    solutions, tests, notebooks or git data?"""
    members = set(bundle.members)
    assert {"setup.sh", "run_autograder", "setup.env", "requirements.txt", "gradescope.json"} <= members
    assert {"course/pyproject.toml", "course/autograder/references/public.pt"} <= members
    assert "course/autograder/gradescope/files/setup.sh" in members and "hidden.pt" not in members
    for member in members:
        parts = member.split("/")
        assert not {"solutions", "tests", "notebooks", ".git", "bench", "__pycache__"} & set(parts), member
        assert not member.endswith((".ipynb", ".pyc")), member
    with zipfile.ZipFile(bundle.path) as archive:
        for script in ("setup.sh", "run_autograder"):
            assert (archive.getinfo(script).external_attr >> 16) & stat.S_IXUSR
        env = archive.read("setup.env").decode()
        config = json.loads(archive.read("gradescope.json"))
    assert "TORCH_VERSION=2.14.1\n" in env and "TORCHVISION_VERSION=0.29.1\n" in env
    assert "PYTHON_MIN=3.11\n" in env and "PYTHON_BELOW=3.12\n" in env
    assert config["references"] == "public"
    assert config["assignments"] == ["NetworkVisualization", "StyleTransfer", "Attribution"]


def test_requirements_are_pinned_cpu_only_and_without_course_tools() -> None:
    """Are grading's packages pinned to installed versions, without torch (CPU index), CUDA wheels,
    jupyter or nbgrader?"""
    import importlib.metadata

    pins = pinned_requirements(["torch==2.14.1", "timm>=1.0,<2", "nbgrader==0.9.*", "jupyter>=1.0"])
    names = {p.split("=")[0].split(">")[0] for p in pins}
    assert f"timm=={importlib.metadata.version('timm')}" in pins
    assert "sympy" in names  # torch's own dependencies are pinned
    assert not names & {"torch", "torchvision", "nbgrader", "jupyter", "triton"}
    assert not any(n.startswith(("nvidia-", "cuda-")) for n in names)
    assert all("==" in p or p.startswith(("setuptools", "pip", "wheel")) for p in pins)


def test_zip_options_are_checked(tmp_path) -> None:
    """Are a missing reference choice, both choices, an unknown assignment and a missing file refused?"""
    with pytest.raises(ValueError, match="--hidden-references"):
        build_zip(tmp_path / "a.zip")
    with pytest.raises(ValueError, match="not both"):
        build_zip(tmp_path / "a.zip", public_references=True, hidden_references=tmp_path / "h.pt")
    with pytest.raises(FileNotFoundError, match="hidden references not found"):
        build_zip(tmp_path / "a.zip", hidden_references=tmp_path / "h.pt")
    with pytest.raises(ValueError, match="unknown assignment"):
        build_zip(tmp_path / "a.zip", public_references=True, assignments=["Saliency"])
    assert not (tmp_path / "a.zip").exists()


def _unpack(bundle, root: Path) -> Path:
    (root / "source").mkdir(parents=True)
    with zipfile.ZipFile(bundle.path) as archive:
        archive.extractall(root / "source")
    for script in ("setup.sh", "run_autograder"):
        (root / "source" / script).chmod(0o755)
    return root / "source"


def test_setup_installs_the_cpu_build_from_the_cpu_index(bundle, tmp_path) -> None:
    """Does setup.sh install torch/torchvision pinned from PyTorch's CPU index (or the one given),
    then the pinned requirements, then the course without dependencies?"""
    source = _unpack(bundle, tmp_path)
    env = {**os.environ, "AUTOGRADER_ROOT": str(tmp_path), "AUTOGRADER_PYTHON": sys.executable}
    env["AUTOGRADER_SETUP_DRY_RUN"] = "1"
    env.pop("AUTOGRADER_SETUP_REUSE_SITE", None)
    out = subprocess.run(["bash", source / "setup.sh"], env=env, capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    torch_line = next(line for line in lines if "torch==" in line)
    assert "--no-deps --index-url https://download.pytorch.org/whl/cpu" in torch_line
    assert "torch==2.14.1 torchvision==0.29.1" in torch_line
    assert any(line.endswith(f"-r {source}/requirements.txt") for line in lines)
    assert any(line.endswith(f"install --quiet --no-deps {source}/course") for line in lines)
    assert any(line.startswith(f"+ chmod -R go-rwx {source}") for line in lines)
    env["AUTOGRADER_TORCH_INDEX"] = "file:///srv/wheels"
    out = subprocess.run(["bash", source / "setup.sh"], env=env, capture_output=True, text=True, check=True)
    assert "--index-url file:///srv/wheels torch==2.14.1" in out.stdout


def test_setup_refuses_a_python_the_course_does_not_support(bundle, tmp_path) -> None:
    """Does setup.sh stop with a clear message when the given Python is outside >=3.11,<3.12?"""
    source = _unpack(bundle, tmp_path)
    fake = tmp_path / "python3.10"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    env = {**os.environ, "AUTOGRADER_ROOT": str(tmp_path), "AUTOGRADER_PYTHON": str(fake)}
    out = subprocess.run(["bash", source / "setup.sh"], env=env, capture_output=True, text=True)
    assert out.returncode == 1 and "is not Python >= 3.11, < 3.12" in out.stderr


def test_run_autograder_reports_a_broken_image_as_not_a_grade(bundle, tmp_path) -> None:
    """Without a working venv, does run_autograder still write a valid 'grading failed' results.json
    and exit non-zero?"""
    source = _unpack(bundle, tmp_path)
    (tmp_path / "submission").mkdir()
    env = {**os.environ, "AUTOGRADER_ROOT": str(tmp_path)}
    out = subprocess.run(["bash", source / "run_autograder"], env=env, capture_output=True, text=True)
    data = json.loads((tmp_path / "results" / "results.json").read_text())
    assert out.returncode != 0 and validate_results(data) == []
    assert "not your grade" in data["output"] and data["visibility"] == "visible"


def test_run_autograder_reports_a_killed_grader_as_memory_for_the_staff(bundle, tmp_path) -> None:
    """When the grader is SIGKILLed (the container's OOM killer), does the student see 'not your grade'
    and the staff-only stdout and grader_error say memory ran out and which setting to raise?"""
    source = _unpack(bundle, tmp_path)
    (tmp_path / "submission").mkdir()
    python = tmp_path / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("#!/bin/sh\nkill -9 $$\n")
    python.chmod(0o755)
    env = {**os.environ, "AUTOGRADER_ROOT": str(tmp_path)}
    out = subprocess.run(["bash", source / "run_autograder"], env=env, capture_output=True, text=True)
    data = json.loads((tmp_path / "results" / "results.json").read_text())
    assert out.returncode == 137 and validate_results(data) == []
    assert "not your grade" in data["output"]
    error = data["extra_data"]["grader_error"]
    assert "killed (SIGKILL)" in error and "lack of memory" in error and "Autograder Settings" in error
    assert error in out.stdout


def test_gradescope_run_without_config_fails_visibly(tmp_path, monkeypatch) -> None:
    """Does a grader-side failure (no gradescope.json) exit 1 with a 'grading failed' results.json?"""
    monkeypatch.setenv(GRADESCOPE_ROOT_ENV, str(tmp_path))
    (tmp_path / "source").mkdir()
    (tmp_path / "submission").mkdir()
    assert run_gradescope(tmp_path) == 1
    data = json.loads((tmp_path / "results" / "results.json").read_text())
    assert "FileNotFoundError" in data["extra_data"]["grader_error"] and data["score"] == 0


def test_hidden_paths_come_from_the_gradescope_folders_and_the_checkout(tmp_path) -> None:
    """Are the Gradescope source, submission and results folders, the checkout, the package's
    references and the reference file in use hidden, while the packages student code imports are
    not?"""
    for name in ("source/course/solutions", "submission", "results"):
        (tmp_path / name).mkdir(parents=True)
    roots = [tmp_path / "source", tmp_path / "submission", tmp_path / "results"]
    hidden = hidden_paths([tmp_path / "elsewhere" / "hidden.pt", tmp_path / "out"], roots)
    for path in ("source", "submission", "results", "elsewhere/hidden.pt", "out"):
        assert str(tmp_path / path) in hidden
    assert str(REPO) in hidden and str(REPO / "autograder" / "references") in hidden
    assert str(REPO / "autograder") not in hidden and str(REPO / "course_utils") not in hidden
    assert str(Path(sys.prefix).resolve()) not in hidden


def test_a_visible_path_inside_a_hidden_course_root_stays_visible() -> None:
    """When a course root lies inside a visible folder (a checkout under /usr/local with Python
    there), is it covered, with the venv and packages inside it bound back on top?"""
    course = "/usr/local/src/course"
    visible = ["/usr/local", f"{course}/.venv", f"{course}/autograder", "/usr/lib"]
    hidden = [course, f"{course}/autograder/references", "/srv/out"]
    plan = plan_view(visible, hidden)
    assert plan.binds == ["/usr/lib", "/usr/local"]
    assert plan.covers == [(course, True)]  # references lie inside the cover already
    assert plan.rebinds == [f"{course}/.venv", f"{course}/autograder"]
    editable = plan_view(["/r/.venv", "/r/autograder"], ["/r", "/r/autograder/references"])
    assert editable.binds == ["/r/.venv", "/r/autograder"] and editable.rebinds == []
    assert editable.covers == [("/r/autograder/references", False)]


def test_selftest_stand_ins_define_exactly_the_graded_functions() -> None:
    """Does each stand-in notebook define every graded function of its notebook, and nothing graded else?"""
    import ast

    from autograder.course import NOTEBOOKS
    from autograder.gradescope.selftest import stand_in_notebook

    for name in NOTEBOOKS:
        tree = ast.parse(stand_in_notebook(name).cells[0].source)
        defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
        assert set(function_names(name)) <= defined
        assert not (defined - set(function_names(name))) - {"_forward_backward"}


def test_selftest_fails_on_a_grader_error_and_warns_near_the_limit(capsys, monkeypatch) -> None:
    """Does the self-test report a grader error as a failure with the log, and a peak near the memory
    limit as a warning naming the setting to raise?"""
    from autograder.gradescope import selftest

    monkeypatch.setattr(selftest, "memory_limit", lambda: 768 * 2**20)
    monkeypatch.setattr(selftest, "cpu_quota", lambda: 0.5)
    failed = {"score": 0, "tests": [], "extra_data": {"grader_error": "the machine ran out of memory"}}
    assert selftest._report(failed, "LOG TAIL", 12.0, 700 * 2**20, ("StyleTransfer",)) == 1
    printed = capsys.readouterr().out
    assert "768 MiB memory limit, 0.5 CPU" in printed
    assert "self-test FAILED: the machine ran out of memory" in printed and "LOG TAIL" in printed
    tests = [{"name": "upload"}] + [
        {"name": f, "extra_data": {"status": "failed"}}
        for f in ("content_loss", "gram_matrix", "style_loss", "tv_loss")
    ]
    assert (
        selftest._report(
            {"score": 0, "tests": tests, "extra_data": {}}, "", 9.0, 700 * 2**20, ("StyleTransfer",)
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert (
        "WARNING: the peak is above 75% of the memory limit" in printed and "Autograder Settings" in printed
    )
    assert "self-test passed: all 4 functions graded" in printed


def test_selftest_process_never_imports_torch() -> None:
    """Does the self-test's own process (which shares the container's memory with the grader it measures)
    run up to the report without torch (about 280 MiB that the grader would lose)?"""
    import subprocess
    import sys

    code = "import sys, autograder.gradescope.selftest; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
