"""Globs on S3 keys: ``*`` and ``?`` stay within one ``/``-separated segment, ``**`` crosses
segments (``exports/**/*.parquet`` matches ``exports/a.parquet`` and ``exports/x/y/b.parquet``),
``[abc]`` / ``[!abc]`` are character classes. The same dialect as the file connector's paths.
"""

from __future__ import annotations

import re

__all__ = ["compile_glob", "literal_prefix"]

_MAGIC = re.compile(r"[*?[]")


def literal_prefix(pattern: str) -> str:
    """The part of ``pattern`` before its first glob character (what a listing can narrow to)."""
    match = _MAGIC.search(pattern)
    return pattern if match is None else pattern[: match.start()]


def _char_class(pattern: str, start: int) -> tuple[str, int]:
    """The regex of the class opening at ``pattern[start] == '['`` and where it ends; a
    ``[`` without its ``]`` is a literal."""
    end = start + 1
    if end < len(pattern) and pattern[end] in "!^":
        end += 1
    if end < len(pattern) and pattern[end] == "]":
        end += 1
    while end < len(pattern) and pattern[end] != "]":
        end += 1
    if end >= len(pattern):
        return re.escape("["), start + 1
    body = pattern[start + 1 : end]
    negate = body[:1] in ("!", "^")
    if negate:
        body = body[1:]
    body = body.replace("\\", "\\\\")
    return (f"(?!/)[^{body}]" if negate else f"[{body}]"), end + 1


def compile_glob(pattern: str) -> re.Pattern[str]:
    """A regex matching exactly the keys ``pattern`` names."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                out.append("(?:.*/)?")  # zero or more whole segments
                i += 1
            else:
                out.append(".*")
        elif char == "*":
            out.append("[^/]*")
            i += 1
        elif char == "?":
            out.append("[^/]")
            i += 1
        elif char == "[":
            regex, i = _char_class(pattern, i)
            out.append(regex)
        else:
            out.append(re.escape(char))
            i += 1
    return re.compile("".join(out), re.DOTALL)
