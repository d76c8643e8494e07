"""Isolation as an ordinary user (autograder.isolation.userns), and the refusal to grade hidden without any.

"No namespaces on this machine" is simulated with ``AUTOGRADER_TEST_NO_ISOLATION=1``
(:data:`autograder.settings.NO_ISOLATION_ENV`, read only by
:func:`autograder.isolation.availability.probe`), so the refusal path is tested on machines that
do have namespaces.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import sys
from pathlib import Path

import pytest

from autograder.cli import main
from autograder.grading.reports import UNISOLATED, feedback_html, feedback_markdown, gradebook_csv
from autograder.grading.results import CheckResult, SubmissionResult
from autograder.isolation.availability import UnisolatedError, check_isolation, isolation_of, probe
from autograder.settings import NO_ISOLATION_ENV

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="namespaces are Linux-only")


def _hidden_copy(tmp_path: Path) -> Path:
    """A hidden-reference file for the tests (the public references under another name, mode 600)."""
    from tests.helpers.notebooks import REPO

    hidden = tmp_path / "secret" / "hidden.pt"
    hidden.parent.mkdir()
    shutil.copy(REPO / "autograder" / "references" / "public.pt", hidden)
    hidden.chmod(0o600)
    return hidden


def _submissions(tmp_path: Path) -> Path:
    from tests.helpers.notebooks import REPO

    subs = tmp_path / "subs"
    subs.mkdir()
    shutil.copy(REPO / "notebooks" / "StyleTransfer.ipynb", subs / "ada.ipynb")
    return subs


@linux
def test_probe_finds_the_isolation_of_this_machine() -> None:
    """Does the probe see namespaces here (root: root mode; otherwise: a user namespace)?"""
    import os

    isolation = probe()
    assert isolation.available, isolation.reason
    assert isolation.kind == ("root" if os.geteuid() == 0 else "user namespace")


def test_probe_reports_why_and_how_to_fix(monkeypatch) -> None:
    """With namespaces unavailable (simulated), does the probe say so, and how to fix it?"""
    monkeypatch.setenv(NO_ISOLATION_ENV, "1")
    isolation = probe()
    assert not isolation.available and isolation.kind == "none"
    assert "root" in isolation.reason and "user namespaces" in isolation.reason


def test_hidden_grading_is_refused_without_isolation(tmp_path, capsys, monkeypatch) -> None:
    """Without namespaces, does hidden grading refuse, say why, name the flag and grade nothing?"""
    monkeypatch.setenv(NO_ISOLATION_ENV, "1")
    out = tmp_path / "out"
    command = ["grade", str(_submissions(tmp_path)), "--out", str(out), "--quiet"]
    command += ["--references", "hidden", "--hidden-references", str(_hidden_copy(tmp_path))]
    assert main(command) == 2
    err = capsys.readouterr().err
    assert "refusing to grade with hidden references" in err
    assert "without isolation" in err and NO_ISOLATION_ENV in err
    assert "--allow-unisolated" in err
    assert not list((out / "results").glob("*.json"))
    with pytest.raises(UnisolatedError):
        check_isolation("hidden", allow_unisolated=False)


def test_public_grading_and_the_risk_flag_are_not_refused(monkeypatch) -> None:
    """Without namespaces, are public grading and hidden grading with allow_unisolated let through?"""
    monkeypatch.setenv(NO_ISOLATION_ENV, "1")
    assert check_isolation("public").kind == "none"
    assert check_isolation("hidden", allow_unisolated=True).kind == "none"


def test_isolation_is_read_from_the_protections() -> None:
    """Does a student process's protection report map to root / user namespace / none?"""
    assert isolation_of({"pid_namespace": "on"}) == "root"
    assert isolation_of({"pid_namespace": "on", "user_namespace": "on (uid 1000)"}) == "user namespace"
    assert isolation_of({"namespaces": "off (disabled)"}) == "none"
    assert isolation_of({}) == "none"


def _result(student: str, isolation: str) -> SubmissionResult:
    check = CheckResult("tv_loss", "hidden", 3.0, 3.0, "passed", "rel_error 1e-9")
    return SubmissionResult(student, "StyleTransfer", 3.0, 11.0, [check], [], "x.ipynb", isolation=isolation)


def test_unisolated_results_are_marked_in_gradebook_and_feedback() -> None:
    """Do the gradebook (isolation column) and the feedback say that a notebook was graded unisolated?"""
    rows = list(csv.DictReader(io.StringIO(gradebook_csv([_result("ada", "none"), _result("bo", "root")]))))
    assert {r["student"]: r["isolation"] for r in rows} == {"ada": UNISOLATED, "bo": "root"}
    assert "without isolation" in feedback_markdown(_result("ada", "none"))
    assert "without isolation" in feedback_html(_result("ada", "none"))
    assert "without isolation" not in feedback_markdown(_result("bo", "user namespace"))
    isolated = gradebook_csv([_result("bo", "user namespace")])
    assert "isolation" not in isolated.splitlines()[0]  # the column appears only when it matters
    assert SubmissionResult.from_json(_result("ada", "none").to_json()).isolation == "none"


@pytest.mark.slow
def test_allow_unisolated_grades_and_records_it(tmp_path, capsys, monkeypatch) -> None:
    """With the risk flag, is the notebook graded, and do result, gradebook and feedback say so?"""
    monkeypatch.setenv(NO_ISOLATION_ENV, "1")
    out = tmp_path / "out"
    command = ["grade", str(_submissions(tmp_path)), "--out", str(out), "--quiet", "--timeout", "20"]
    command += ["--references", "hidden", "--hidden-references", str(_hidden_copy(tmp_path))]
    assert main([*command, "--allow-unisolated"]) == 0
    assert "WITHOUT isolation" in capsys.readouterr().err
    (result,) = [json.loads(p.read_text()) for p in (out / "results").glob("*.json")]
    assert result["isolation"] == "none" and not result["grader_error"]
    assert len(result["checks"]) == 4  # graded: the released stub scores 0 on each
    (row,) = csv.DictReader(io.StringIO((out / "gradebook.csv").read_text()))
    assert row["isolation"] == UNISOLATED and row["total"] == "0"
    assert "without isolation" in next((out / "feedback").glob("*.md")).read_text()


def test_process_limit_counts_only_the_namespace_on_new_kernels(monkeypatch) -> None:
    """Is RLIMIT_NPROC left as is on Linux 5.14+ and raised by the uid's processes on older kernels?"""
    import platform

    from autograder.isolation import userns

    monkeypatch.setattr(platform, "release", lambda: "6.1.0-18-amd64")
    assert userns.process_limit(64) == 64
    monkeypatch.setattr(platform, "release", lambda: "5.10.0-28-amd64")
    assert userns.process_limit(64) > 64  # this test process itself counts
