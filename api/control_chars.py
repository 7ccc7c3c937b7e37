"""Control characters made visible, so text from outside can drive neither a log nor a terminal.

Request paths, document titles, file names and Claude's answers all come from someone else.
In a log line a newline forges another line; on a terminal an escape sequence can move the
cursor, rewrite what was printed, set the window title or, on some terminals, answer back
with keystrokes. Both are neutralised by printing such characters as their Python escapes.
"""

from __future__ import annotations

import unicodedata

# Bidirectional embeddings, overrides and isolates reorder what is shown ("Trojan Source").
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# A terminal needs these two for layout; neither can start a sequence.
_LAYOUT = frozenset("\n\t")


def _escaped(ch: str) -> str:
    return ch.encode("unicode_escape").decode()


def printable(text: str) -> str:
    """Text with every non-printable character escaped, newlines included: one log line."""
    return "".join(ch if ch.isprintable() else _escaped(ch) for ch in text)


def for_terminal(text: str) -> str:
    """Text with control characters (but newline and tab) and bidi controls escaped."""
    return "".join(
        _escaped(ch)
        if ch in _BIDI_CONTROLS or (unicodedata.category(ch) == "Cc" and ch not in _LAYOUT)
        else ch
        for ch in text
    )
