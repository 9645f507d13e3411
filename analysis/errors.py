"""The one exception for bad user input.

Every loader and validator raises :class:`InputError` with a single line that names the
field, the value and what is allowed. The CLI turns it into that line on stderr and exit 2.
Values from user files are formatted with :func:`shown` (a bounded ``repr``), never with a
bare ``{value!r}``: a value may be a huge string or a deeply nested structure.
"""
from __future__ import annotations

import reprlib

#: Longest value shown in an error message (characters).
VALUE_LIMIT = 80
#: Longest error message (characters); longer ones are cut with a note.
MESSAGE_LIMIT = 2000

_repr = reprlib.Repr()
_repr.maxlevel = 3
_repr.maxdict = _repr.maxlist = _repr.maxtuple = _repr.maxset = _repr.maxfrozenset = _repr.maxdeque = 6
_repr.maxarray = 6
_repr.maxstring = VALUE_LIMIT
_repr.maxlong = 40
_repr.maxother = VALUE_LIMIT


def clip(text: str, limit: int = VALUE_LIMIT) -> str:
    """``text`` on one line, at most ``limit`` characters (an ellipsis and the full length when cut)."""
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    note = f"... ({len(text):,} chars)"
    return text[:max(limit - len(note), 1)] + note


def shown(value, limit: int = VALUE_LIMIT) -> str:
    """``repr(value)`` for an error message: at most ``limit`` characters however large or
    nested ``value`` is (``reprlib`` never builds the full repr)."""
    try:
        text = _repr.repr(value)
    except Exception:  # a broken __repr__ must not hide the error being reported
        text = f"<{type(value).__name__}>"
    return clip(text, limit)


class InputError(ValueError):
    """Bad user input (data table, scenario, run file, CLI argument). Message is one line."""

    def __init__(self, message: str):
        super().__init__(clip(message, MESSAGE_LIMIT))
