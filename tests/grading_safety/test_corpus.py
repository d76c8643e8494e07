"""Every broken or hostile submission of the corpus grades correctly (issue 6).

The corpus is graded once, as one batch (``graded_corpus`` in conftest.py); each case then checks
its own result: the expected points per function, the status and message of the targeted function,
and the problem reported for broken files. Runs in ``make test`` / CI (marked slow).
"""

from __future__ import annotations

import json

import pytest

from tests.grading_safety.corpus_run import STUB_CASE, GradedCorpus, processes_with, protection_active
from tests.grading_safety.safety_corpus import CASES, FUNCTIONS, REPO, Case

pytestmark = [pytest.mark.slow, pytest.mark.linux]


def _points(result: object, function: str) -> tuple[float, float]:
    checks = [c for c in result.checks if c.function == function]  # type: ignore[attr-defined]
    return sum(c.points for c in checks), sum(c.max_points for c in checks)


def _skip_unprotected(corpus: GradedCorpus, case: Case) -> None:
    if not protection_active(corpus.protections, case.needs):
        pytest.skip(f"needs the sandbox protection {case.needs!r}, not active here (run as root on Linux)")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_gets_its_expected_grade(graded_corpus: GradedCorpus, case: Case) -> None:
    """Does each corpus submission get a result with exactly its expected points per function?"""
    _skip_unprotected(graded_corpus, case)
    result = graded_corpus.results.get(case.name)
    assert result is not None, f"{case.name}: no result at all (lost grade)"
    for function, expected in case.expect.items():
        points, max_points = _points(result, function)
        assert max_points > 0, f"{case.name}: no check of {function} in the result"
        detail = [(c.function, c.status, c.message[:300]) for c in result.checks if c.function == function]
        if expected == "full":
            assert points == pytest.approx(max_points), f"{case.name}: {detail}"
        elif expected == "zero":
            assert points == 0, f"{case.name}: {detail}"
    assert result.score == pytest.approx(sum(c.points for c in result.checks))
    assert result.max_score == pytest.approx(sum(_points(result, f)[1] for f in FUNCTIONS[case.notebook]))


@pytest.mark.parametrize("case", [c for c in CASES if c.target], ids=[c.name for c in CASES if c.target])
def test_feedback_names_the_function_and_what_went_wrong(graded_corpus: GradedCorpus, case: Case) -> None:
    """Does the targeted function's check say plainly what happened (status and a message)?"""
    _skip_unprotected(graded_corpus, case)
    result = graded_corpus.results[case.name]
    checks = [c for c in result.checks if c.function == case.target]
    assert checks, f"{case.name}: {case.target} has no check result"
    for check in checks:
        assert check.message.strip(), f"{case.name}: empty feedback for {case.target}"
        if case.statuses:
            assert check.status in case.statuses, f"{case.name}: {check.status}: {check.message[:300]}"


@pytest.mark.parametrize("case", [c for c in CASES if c.problem], ids=[c.name for c in CASES if c.problem])
def test_problem_is_reported(graded_corpus: GradedCorpus, case: Case) -> None:
    """Is the problem with a broken file or notebook reported in plain words in the result?"""
    result = graded_corpus.results[case.name]
    text = " ".join([*result.problems, *(c.message for c in result.checks)]).lower()
    assert case.problem is not None and case.problem.lower() in text, result.problems


def test_no_hostile_case_beats_the_stub(graded_corpus: GradedCorpus) -> None:
    """Can tampering ever score more than leaving the attacked function as the released stub?"""
    stub = graded_corpus.results[STUB_CASE]
    assert stub.score == 0
    for case in CASES:
        if case.target is None or case.notebook != "StyleTransfer":
            continue
        points, _ = _points(graded_corpus.results[case.name], case.target)
        assert points <= _points(stub, case.target)[0], case.name
        # and the whole submission scores at most "stub for that function, the rest solved"
        result = graded_corpus.results[case.name]
        assert result.score <= result.max_score - _points(result, case.target)[1] + 1e-9, case.name


def test_every_submission_has_a_result_file(graded_corpus: GradedCorpus) -> None:
    """Does the batch write one complete JSON result per submission, none lost?"""
    students = set()
    for path in sorted((graded_corpus.out / "results").glob("*.json")):
        students.add(json.loads(path.read_text(encoding="utf-8"))["student"])
    expected = {c.name for c in CASES} | {STUB_CASE}
    assert expected <= students, f"missing: {sorted(expected - students)}"


def test_escaped_processes_are_killed(graded_corpus: GradedCorpus) -> None:
    """Is every process a student function spawned gone once its check is over?"""
    assert processes_with(graded_corpus.token) == []


def test_student_code_cannot_reach_the_network(graded_corpus: GradedCorpus) -> None:
    """Did no student process connect to a server listening on the grader's machine?"""
    if not protection_active(graded_corpus.protections, "network"):
        pytest.skip("no network namespace here (needs root on Linux)")
    assert graded_corpus.connections == []


def test_repository_and_outputs_are_untouched(graded_corpus: GradedCorpus) -> None:
    """Are the repository and the grader's output folder safe from student code that writes/deletes?"""
    if not protection_active(graded_corpus.protections, "uid"):
        pytest.skip("student code runs as the grader's own user here (needs root to drop privileges)")
    assert graded_corpus.canary.exists(), "student code deleted a file in the repository"
    assert not list(REPO.glob(f"evil-{graded_corpus.token}*")), "student code wrote into the repository"
    assert not list(graded_corpus.out.rglob(f"evil-{graded_corpus.token}*")), "student code wrote results"
    for path in (graded_corpus.out / "results").glob("*.json"):
        assert json.loads(path.read_text(encoding="utf-8")).get("score") != 1000


def test_huge_print_is_capped(graded_corpus: GradedCorpus) -> None:
    """Does printing 1 GB leave a small result file and a small feedback message?"""
    result = graded_corpus.results["print_1gb"]
    assert len(result.to_json()) < 200_000
    assert all(len(c.message) < 50_000 for c in result.checks)


def test_clean_submissions_unaffected(graded_corpus: GradedCorpus) -> None:
    """Do hostile submissions in the same batch leave the clean ones with full marks?"""
    for name in ("nbformat_v3", "zip_with_notebook", "cells_reordered", "markers_deleted", "notebook_200mb"):
        result = graded_corpus.results[name]
        assert result.score == result.max_score > 0, (name, result.checks)


def test_corpus_fits_the_ci_budget(graded_corpus: GradedCorpus) -> None:
    """Does grading the whole corpus stay within the CI budget (~6 minutes on 2 cores)?"""
    assert graded_corpus.seconds < 420, f"the corpus took {graded_corpus.seconds:.0f} s"
