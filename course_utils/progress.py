"""Progress bars for the course's long loops (notebook-aware through ``tqdm.auto``)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm.auto import tqdm

__all__ = ["PROGRESS_ENV", "progress"]

T = TypeVar("T")

#: Set ``COURSE_PROGRESS=0`` to hide the bars (e.g. when executing notebooks in CI).
PROGRESS_ENV = "COURSE_PROGRESS"


def progress(iterable: Iterable[T], desc: str | None = None, total: int | None = None) -> Iterator[T]:
    """Iterate over ``iterable`` with a tqdm progress bar: a widget in Jupyter, text in a terminal.

    The bar disappears when the loop ends, also when it ends early: a loop whose body raises (a student
    function that is not implemented yet) must not leave a half-full bar above the message. The bar is
    removed when this generator is closed, so a loop that can raise runs under
    ``contextlib.closing``::

        with closing(progress(range(n), desc="class 76")) as steps:
            for t in steps:
                ...

    Args:
        iterable: what to loop over.
        desc: a short label shown before the bar.
        total: number of items, when ``iterable`` has no ``len``.

    Yields:
        The items of ``iterable``.
    """
    disable = os.environ.get(PROGRESS_ENV, "1") == "0"
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    bar = tqdm(total=total, desc=desc, disable=disable, leave=False)
    try:
        for item in iterable:
            yield item
            bar.update()
    finally:
        # tqdm keeps (and colours red) a notebook bar closed before its total; a finished-looking
        # bar with leave=False is removed instead, whichever way the loop ended.
        bar.total = bar.n
        bar.close()
