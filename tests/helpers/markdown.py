"""Render Markdown as a reader sees it (mistune, CommonMark-like, raw HTML passed through)."""

from __future__ import annotations

import html
import re

import mistune

__all__ = ["rendered", "visible_text"]

_RENDER = mistune.create_markdown(escape=False, plugins=["table"])


def rendered(markdown: str) -> str:
    """The HTML a Markdown renderer makes of ``markdown`` (raw HTML in it is kept, as Gradescope's)."""
    return str(_RENDER(markdown))


def visible_text(markdown: str) -> str:
    """The text a reader sees: rendered, tags removed, entities decoded, whitespace collapsed."""
    text = re.sub(r"<[^>]*>", " ", rendered(markdown))
    return " ".join(html.unescape(text).split())
