"""Student-controlled text made inert for each place it is written: Markdown, spreadsheets.

Names come from folder and file names, messages from the student's own exceptions and prints: any of
them may hold Markdown (``**Score: 11/11**``), raw HTML (``<img onerror=...>``), line breaks that
start a new heading or paragraph, or a spreadsheet formula. Every writer passes such text through
one of these functions (HTML pages use :func:`html.escape`).
"""

from __future__ import annotations

import re

__all__ = ["md_block", "md_code", "md_text", "one_line", "spreadsheet_safe", "terminal_text"]

#: ANSI escape sequences (colours, cursor moves) that terminals interpret and pages would show raw.
_ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|[@-Z\\-_])")
#: Control characters and Unicode line/paragraph separators: each becomes one space in a line.
_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
#: ASCII punctuation that Markdown (CommonMark, GitHub) may read as syntax; escaped with a backslash.
_MD_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")
_MD_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def one_line(text: str) -> str:
    """``text`` on one line: every control character and line separator becomes a space."""
    return _BREAKS.sub(" ", str(text))


def md_text(text: str) -> str:
    """``text`` as literal Markdown prose on one line: no emphasis, heading, link, table cell break or
    HTML tag can come out of it, and no line break can start a new block.

    Example:
        >>> print(md_text("**Score: 11/11**\\n# x <b>"))
        \\*\\*Score: 11/11\\*\\* \\# x &lt;b&gt;
    """
    escaped = _MD_PUNCTUATION.sub(r"\\\1", one_line(text))
    return "".join(_MD_ENTITIES.get(ch, ch) for ch in escaped)


def md_code(text: str) -> str:
    """``text`` as an inline Markdown code span on one line that its own backticks cannot close."""
    text = one_line(text)
    runs = [len(r) for r in re.findall(r"`+", text)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def md_block(text: str) -> str:
    """``text`` in a fenced Markdown code block that its own backticks cannot close."""
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}text\n{text}\n{fence}"


def spreadsheet_safe(text: str) -> str:
    """``text`` made inert for spreadsheets: a leading ``=``, ``+``, ``-``, ``@``, tab or CR would make
    Excel or LibreOffice evaluate the cell as a formula (CSV injection), so it gets a leading ``'``."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def terminal_text(text: str) -> str:
    r"""What a terminal would show of ``text``: ANSI escape sequences dropped, and of each line only what
    its last carriage return left (a progress bar redrawn 100 times is its last state), then the
    control characters a page cannot show removed (tabs and line breaks kept).

    Example:
        >>> terminal_text("step 1\rstep 2\rstep 3\r\n\x1b[31mred\x1b[0m")
        'step 3\nred'
    """
    lines = _ANSI.sub("", text).replace("\r\n", "\n").split("\n")
    shown = [([part for part in line.split("\r") if part] or [""])[-1] for line in lines]
    return "\n".join(re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "", line) for line in shown)
