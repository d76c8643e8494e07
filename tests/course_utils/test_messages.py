"""Tests for course_utils.messages: wrapped student-facing text and errors shown without a traceback."""

from __future__ import annotations

import pytest

from course_utils.messages import MESSAGE_WIDTH, StudentFacingError, wrap_message

LONG = (
    "compute_saliency_maps: NOT IMPLEMENTED YET: the function returned None. Write your code between the "
    "START/END markers and return the result.\n  Hint: the mean divides the loss by the number of elements "
    "C * H * W, so sum the squared differences instead of averaging them over every position."
)


def test_wrap_message_breaks_at_spaces_only():
    """Issue 24: are long lines broken at word boundaries (JupyterLab otherwise breaks "ret/urn")?"""
    wrapped = wrap_message(LONG)
    assert all(len(line) <= MESSAGE_WIDTH for line in wrapped.splitlines())
    assert wrapped.split() == LONG.split()  # the same words, none cut in two
    assert wrapped.splitlines()[0].startswith("compute_saliency_maps: NOT IMPLEMENTED YET")


def test_wrap_message_keeps_indentation_and_indents_continuations():
    """Does a continued ``  Hint:`` line stay visibly inside its paragraph?"""
    lines = wrap_message(LONG, width=60).splitlines()
    hint = next(i for i, line in enumerate(lines) if line.startswith("  Hint:"))
    assert lines[hint + 1].startswith("    ") and not lines[hint + 1].startswith("     ")
    assert wrap_message("short") == "short" and wrap_message("a\n\nb") == "a\n\nb"


def test_student_facing_error_renders_without_traceback():
    """Does IPython's hook show the error's name and its wrapped message, and nothing else?"""

    class MissingThingError(StudentFacingError):
        pass

    with pytest.raises(MissingThingError) as info:
        raise MissingThingError("x " * 80)
    (text,) = info.value._render_traceback_()
    assert text.startswith("\x1b[0;31mMissingThingError\x1b[0m: x x")
    assert len(text.splitlines()) == 2
    assert str(info.value).splitlines()[0] == ("x " * 50).strip()
