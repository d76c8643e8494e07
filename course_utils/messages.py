"""Messages students read in a notebook: wrapped at word boundaries, shown without a traceback.

JupyterLab breaks long output lines at any character (``word-break: break-all``), so a long one-line
message reads "ret/urn" at a line end. :func:`wrap_message` breaks lines at spaces first, at a width
that fits a notebook's output area on a 1366 px wide screen with the file browser open (about 116
monospace characters). :class:`StudentFacingError` is an exception that a notebook shows as its message
alone: IPython displays what an exception's ``_render_traceback_`` returns instead of the traceback,
so a demo cell run before the student's function exists shows one short paragraph, not 45 lines
through ``course_utils``.
"""

from __future__ import annotations

import textwrap

__all__ = ["MESSAGE_WIDTH", "StudentFacingError", "wrap_message"]

#: Characters per line of a wrapped message.
MESSAGE_WIDTH = 100


def wrap_message(text: str, width: int = MESSAGE_WIDTH) -> str:
    """Wrap every line of ``text`` at spaces to at most ``width`` characters (longer words stay whole).

    A line's leading spaces are kept, and the lines it continues on are indented two spaces more,
    so an indented ``Hint:`` line stays visibly one paragraph.

    Args:
        text: one or more lines.
        width: the largest line length, in characters.

    Returns:
        The wrapped text (same words, same line breaks plus new ones).

    Example:
        >>> print(wrap_message("one two three four", width=9))
        one two
          three
          four
    """
    lines = []
    for line in text.splitlines():
        lead = line[: len(line) - len(line.lstrip(" "))]
        wrapped = textwrap.fill(
            line,
            width=width,
            initial_indent="",
            subsequent_indent=lead + "  ",
            break_long_words=False,
            break_on_hyphens=False,
        )
        lines.append(wrapped if line.strip() else line)
    return "\n".join(lines)


class StudentFacingError(Exception):
    """An error a notebook shows as its (wrapped) message, without a traceback.

    Subclasses name what is missing and what to do; raising one from deep inside a provided helper
    still shows only ``ErrorName: message`` in the cell's output (red, as errors are). Outside
    IPython it is an ordinary exception with an ordinary traceback.
    """

    def __str__(self) -> str:
        """The message, wrapped (``print(error)`` in a notebook reads well too)."""
        return wrap_message(super().__str__())

    def _render_traceback_(self) -> list[str]:
        """What IPython shows instead of the traceback: the error's name (red) and its wrapped message."""
        name = type(self).__name__
        text = wrap_message(f"{name}: {super().__str__()}")
        return [f"\x1b[0;31m{name}\x1b[0m{text[len(name) :]}"]
