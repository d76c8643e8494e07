"""The notebooks' check(): a verdict line for students, an AssertionError under nbgrader."""

from __future__ import annotations

import pytest

from autograder.selfcheck import check
from tests.helpers.notebooks import solution_functions


def _unfinished_gram(features, normalize=True):
    return None


def test_pass_prints_verdict_line(capsys, monkeypatch) -> None:
    """Does a correct function print 'name: PASSED  rel_error ... < threshold'?"""
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    check("gram_matrix", solution_functions("StyleTransfer")["gram_matrix"])
    out = capsys.readouterr().out
    assert out.startswith("gram_matrix: PASSED  rel_error")
    assert "< 1e-03" in out


def test_stub_prints_not_implemented_without_raising(capsys, monkeypatch) -> None:
    """Does an unfinished function print NOT IMPLEMENTED YET and let "Run All" continue?"""
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.delenv("AUTOGRADER_STRICT", raising=False)
    assert check("gram_matrix", _unfinished_gram) is None
    out = " ".join(capsys.readouterr().out.split())  # long verdicts are wrapped at word boundaries
    assert "NOT IMPLEMENTED YET" in out and "START and END markers" in out and "Hint" not in out


@pytest.mark.parametrize("mode", ["autograde", "validate"])
def test_nbgrader_execution_makes_failures_raise(monkeypatch, mode: str) -> None:
    """Under nbgrader autograde/validate, does a failing check raise AssertionError (failing the cell)?"""
    monkeypatch.setenv("NBGRADER_EXECUTION", mode)
    with pytest.raises(AssertionError, match="NOT IMPLEMENTED YET"):
        check("gram_matrix", _unfinished_gram)


def test_nbgrader_execution_passing_check_does_not_raise(monkeypatch, capsys) -> None:
    """Under nbgrader autograde, does a passing check stay silent apart from its verdict?"""
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    check("tv_loss", solution_functions("StyleTransfer")["tv_loss"])
    assert capsys.readouterr().out.startswith("tv_loss: PASSED")


def test_hidden_without_configuration_under_nbgrader_says_what_to_do(monkeypatch) -> None:
    """Under nbgrader, without hidden references configured, does a hidden check fail with instructions?"""
    monkeypatch.delenv("AUTOGRADER_HIDDEN_REFERENCES", raising=False)
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with pytest.raises(FileNotFoundError, match="AUTOGRADER_HIDDEN_REFERENCES"):
        check("gram_matrix", _unfinished_gram, hidden=True)


def test_hidden_outside_grading_is_reported_not_run(capsys, monkeypatch) -> None:
    """Running the solution notebook without hidden references: is the hidden check named as not run?"""
    monkeypatch.delenv("AUTOGRADER_HIDDEN_REFERENCES", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.delenv("AUTOGRADER_STRICT", raising=False)
    assert check("gram_matrix", _unfinished_gram, hidden=True) is None
    assert "[hidden tests] gram_matrix: not run here" in capsys.readouterr().out


def test_unknown_function_name() -> None:
    """Is a misspelled function name refused with the list of known names?"""
    with pytest.raises(KeyError, match="gram_matrix"):
        check("gram_matrx", _unfinished_gram)
