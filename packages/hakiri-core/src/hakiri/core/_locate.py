"""Find the line of a key path in TOML or JSON text, for error messages.

Python's TOML and JSON parsers do not keep positions, so this scans the text. It handles
table headers, dotted keys and inline tables well enough to point a person at the right line;
when the exact key is absent (a missing key) it returns the line of the nearest parent.
"""

from __future__ import annotations

import re

__all__ = ["locate_json_key", "locate_toml_key"]

_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*((?:"[^"]*"|'[^']*'|[A-Za-z0-9_.\- ]+?))\s*=""")


def _split_dotted(key: str) -> tuple[str, ...]:
    return tuple(
        next(group for group in match.groups() if group is not None)
        for match in re.finditer(r'"([^"]*)"|\'([^\']*)\'|([^.\s]+)', key)
    )


def locate_toml_key(text: str, path: tuple[str, ...]) -> int | None:
    """The 1-based line that defines ``path`` (or its longest defined prefix)."""
    best_line: int | None = None
    best_len = 0
    table: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            table = _split_dotted(header.group(1))
            full = table
        else:
            key = _KEY.match(line)
            if not key:
                continue
            full = table + _split_dotted(key.group(1))
        common = _common_prefix(full, path)
        if common > best_len or (common == best_len == len(full) and best_line is None):
            best_len, best_line = common, number
        if common == len(path):
            return number
    return best_line if best_len else None


def _common_prefix(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    count = 0
    for left, right in zip(a, b, strict=False):
        if left != right:
            break
        count += 1
    return count


def locate_json_key(text: str, path: tuple[str, ...]) -> int | None:
    """The 1-based line of the last key of ``path`` found in order in the JSON text."""
    position = 0
    found: int | None = None
    for part in path:
        if part.isdigit():
            continue
        match = re.compile(r'"' + re.escape(part) + r'"\s*:').search(text, position)
        if not match:
            break
        position = match.end()
        found = text.count("\n", 0, match.start()) + 1
    return found
