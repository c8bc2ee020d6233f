"""Text bound for a terminal, with its control characters made visible.

Source data, column names and error messages can hold anything a server sent. Printed as
they are, an ESC or OSC sequence (``\\x1b]52;…`` writes the clipboard, ``\\x1b[2J`` clears
the screen, others retitle the window or forge earlier output), a C1 control (``\\x9b`` is
CSI on terminals that honour 8-bit controls) or a bidi override (which reorders what the
eye reads) reaches the person's terminal. ``printable`` writes each of them as a visible
escape instead: ``\\x1b``, ``\\x9b``, ``\\u202e``; tab, newline and carriage return as
``\\t``, ``\\n``, ``\\r``. Everything else, non-ASCII text included, is kept.
"""

from __future__ import annotations

import re

__all__ = ["UNSAFE", "printable"]

UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""C0 controls, DEL, C1 controls, and the bidirectional formatting characters."""

_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every control character written as a visible escape (see the module)."""
    return UNSAFE.sub(_escape, text) if UNSAFE.search(text) else text
