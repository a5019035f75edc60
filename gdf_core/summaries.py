"""One-sentence summaries of components for listings: whole sentences, reST markup removed."""

from __future__ import annotations

import inspect
import re
from typing import Any

_ROLE = re.compile(r":[a-z:]+:`~?([^`<]*?)(?:\s*<[^>]*>)?`")  # :class:`~pkg.Name` → pkg.Name, :math:`x` → x
_LITERAL = re.compile(r"``(.+?)``")
_INTERPRETED = re.compile(r"(?<![`\w])`([^`]+)`(?!`)")
_STRONG = re.compile(r"\*\*(.+?)\*\*")
_EMPHASIS = re.compile(r"(?<![\w*])\*(?!\s)([^*]+?)\*(?![\w*])")
_LINK = re.compile(r"`([^`<]+?)\s*<[^>]+>`_+")


def plain(text: str) -> str:
    """``text`` with reST inline markup removed: literals, roles, links, emphasis."""
    text = _LINK.sub(r"\1", text)
    text = _ROLE.sub(lambda m: m.group(1).rsplit(".", 1)[-1] if m.group(0).find("~") >= 0 else m.group(1), text)
    text = _LITERAL.sub(r"\1", text)
    text = _INTERPRETED.sub(r"\1", text)
    text = _STRONG.sub(r"\1", text)
    return _EMPHASIS.sub(r"\1", text)


def _sentence_ends(text: str) -> list[int]:
    """Where sentences of ``text`` end: a full stop (or ! ?) outside parentheses, before a capital letter."""
    ends, depth = [], 0
    for i, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch in ".!?" and depth <= 0 and re.match(r"\s+[A-Z(]", text[i + 1:]):
            ends.append(i + 1)
    return ends


def summary(obj: Any, limit: int = 200) -> str:
    """The first paragraph of ``obj``'s docstring, as plain whole sentences of at most ``limit`` characters when it can.

    A longer paragraph is cut after its last sentence that fits; the result always ends with a full stop.
    """
    doc = inspect.getdoc(obj) or ""
    paragraph = " ".join(doc.strip().split("\n\n", 1)[0].split()) if doc.strip() else ""
    text = plain(paragraph)
    if not text:
        return ""
    if len(text) > limit:
        ends = [end for end in _sentence_ends(text) if end <= limit]
        if ends:
            text = text[: ends[-1]]
    return text if text.endswith((".", "!", "?")) else text + "."


__all__ = ["plain", "summary"]
