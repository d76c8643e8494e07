"""The command line: argument parsing and rerun skipping (results already written are kept)."""

from __future__ import annotations

import json
import shutil

import pytest

from autograder.cli import build_parser, main
from autograder.grading.results import SubmissionResult
from autograder.grading.store import result_stem
from autograder.grading.submission import discover_submissions


def test_parser_knows_every_command() -> None:
    """Does the parser accept grade/references/release/demo with their options?"""
    parser = build_parser()
    args = parser.parse_args(
        ["grade", "subs", "--out", "o", "--workers", "2", "--force", "--references", "public"]
    )
    assert args.workers == 2 and args.force and args.references == "public"
    assert parser.parse_args(["references", "--hidden", "--seed", "3", "--out", "h.pt"]).seed == 3
    assert parser.parse_args(["release"]).command == "release"
    assert parser.parse_args(["demo", "--out", "d"]).command == "demo"


def test_hidden_references_need_seed_and_out(capsys) -> None:
    """Does `references --hidden` without --seed/--out stop with a clear message?"""
    assert main(["references", "--hidden"]) == 2
    assert "--seed" in capsys.readouterr().err


def test_rerun_skips_graded_submissions(tmp_path, capsys) -> None:
    """Does a second run skip a submission whose result is already written (no sandbox started)?"""
    from tests.helpers.notebooks import REPO

    subs = tmp_path / "subs"
    subs.mkdir()
    shutil.copy(REPO / "notebooks" / "StyleTransfer.ipynb", subs / "ada.ipynb")
    (submission,) = discover_submissions(subs)
    out = tmp_path / "out"
    (out / "results").mkdir(parents=True)
    done = SubmissionResult(submission.student, submission.assignment, 11.0, 11.0, [], [], "earlier")
    (out / "results" / f"{result_stem(submission.student, submission.assignment)}.json").write_text(
        done.to_json()
    )
    assert main(["grade", str(subs), "--out", str(out), "--references", "public", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "0 graded, 1 already graded" in printed
    assert (out / "gradebook.csv").read_text().splitlines()[1].startswith(submission.student)


def test_unknown_reference_set_is_refused() -> None:
    """Is a reference set other than public/hidden refused?"""
    with pytest.raises(SystemExit):
        build_parser().parse_args(["grade", "x", "--out", "o", "--references", "secret"])


def test_hidden_references_refused_inside_the_repository(capsys) -> None:
    """Is writing hidden references inside the course repository refused (they could ship or be committed)?"""
    from tests.helpers.notebooks import REPO

    assert (
        main(["references", "--hidden", "--seed", "5", "--out", str(REPO / "autograder" / "hidden.pt")]) == 2
    )
    assert "outside" in capsys.readouterr().err
    assert not (REPO / "autograder" / "hidden.pt").exists()


@pytest.mark.linux
def test_grader_failure_is_not_a_grade_and_is_regraded(tmp_path, capsys, monkeypatch) -> None:
    """If the grader cannot start student processes, is nothing recorded as a 0, and does a rerun
    (without --force) grade the submission once the cause is gone?"""
    import autograder.isolation.sandbox
    from autograder.isolation.template_client import TemplateError
    from tests.helpers.notebooks import REPO

    subs = tmp_path / "subs"
    subs.mkdir()
    shutil.copy(REPO / "notebooks" / "StyleTransfer.ipynb", subs / "ada.ipynb")
    out = tmp_path / "out"
    gradescope = tmp_path / "results.json"
    command = ["grade", str(subs), "--out", str(out), "--references", "public", "--quiet"]
    command += ["--gradescope-json", str(gradescope)]

    def broken(*args, **kwargs):
        raise TemplateError("simulated: the template could not start")

    monkeypatch.setattr(autograder.isolation.sandbox, "shared_template", broken)
    assert main(command) == 1
    captured = capsys.readouterr()
    assert "grader failed on 1 submission" in captured.err and "simulated" in captured.err
    assert "ERROR" in captured.out
    row = (out / "gradebook.csv").read_text().splitlines()[1]
    assert "not graded (grader error)" in row
    feedback = next((out / "feedback").glob("*.md")).read_text()
    assert "not a problem in your notebook" in feedback
    failure = json.loads(gradescope.read_text())  # says so to the student: never a 0 that looks like a grade
    assert "not your grade" in failure["output"] and "simulated" in failure["extra_data"]["grader_error"]

    monkeypatch.undo()
    assert main(command) == 0
    assert "1 graded, 0 already graded" in capsys.readouterr().out
    row = (out / "gradebook.csv").read_text().splitlines()[1]
    assert "grader error" not in row and row.endswith(",0,11")
    assert "grader_error" not in json.loads(gradescope.read_text())["extra_data"]
