"""Tests for course_utils.progress: bars that disappear however their loop ends."""

from __future__ import annotations

from contextlib import closing
from typing import Any

import pytest

import course_utils.progress as progress_module
from course_utils.progress import progress


class FakeBar:
    """Stands in for tqdm: records how it was made, advanced and closed."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.total = kwargs.get("total")
        self.n = 0
        self.closed = False
        self.total_at_close: int | None = None

    def update(self, n: int = 1) -> None:
        self.n += n

    def close(self) -> None:
        self.closed = True
        self.total_at_close = self.total


def _record_bars(monkeypatch: pytest.MonkeyPatch) -> list[FakeBar]:
    """Replace tqdm in course_utils.progress by :class:`FakeBar`; return the bars it makes."""
    bars: list[FakeBar] = []

    def make(**kwargs: Any) -> FakeBar:
        bars.append(FakeBar(**kwargs))
        return bars[-1]

    monkeypatch.setattr(progress_module, "tqdm", make)
    return bars


def test_progress_counts_items_and_closes_at_the_end(monkeypatch):
    """Does the bar get the total from len(), count every item, and close after the last?"""
    bars = _record_bars(monkeypatch)
    assert list(progress(range(4), desc="steps")) == [0, 1, 2, 3]
    (bar,) = bars
    assert bar.kwargs["total"] == 4 and bar.kwargs["desc"] == "steps" and bar.kwargs["leave"] is False
    assert bar.n == 4 and bar.closed


def test_progress_bar_is_removed_when_the_loop_raises(monkeypatch):
    """Issue 24: is the bar of a loop that raised closed as finished, not left half-full above the error?

    tqdm's notebook bar stays on the page (red) when closed before its total; with ``leave=False`` it is
    removed only when closed at its total. Before the fix a stale ``class 76: 0% 0/100`` stayed.
    """
    bars = _record_bars(monkeypatch)
    with pytest.raises(RuntimeError), closing(progress(range(100), desc="class 76")) as steps:
        for t in steps:
            if t == 0:
                raise RuntimeError("update step not implemented")
    (bar,) = bars
    assert bar.closed and bar.total_at_close == bar.n == 0
