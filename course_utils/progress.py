"""Progress bars for the course's long loops (notebook-aware through ``tqdm.auto``)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm.auto import tqdm

__all__ = ["progress"]

T = TypeVar("T")

#: Set ``COURSE_PROGRESS=0`` to hide the bars (e.g. when executing notebooks in CI).
PROGRESS_ENV = "COURSE_PROGRESS"


def progress(iterable: Iterable[T], desc: str | None = None, total: int | None = None) -> Iterator[T]:
    """Wrap ``iterable`` in a tqdm progress bar: a widget in Jupyter, text in a terminal.

    Args:
        iterable: what to loop over.
        desc: a short label shown before the bar.
        total: number of items, when ``iterable`` has no ``len``.

    Returns:
        An iterator over the same items.
    """
    disable = os.environ.get(PROGRESS_ENV, "1") == "0"
    return iter(tqdm(iterable, desc=desc, total=total, disable=disable, leave=False))
