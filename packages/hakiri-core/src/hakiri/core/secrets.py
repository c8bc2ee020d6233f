"""``secret://NAME`` references: found in configs, resolved only by the host."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from hakiri.core.errors import SecretError

__all__ = ["SECRET_REF", "find_secret_refs", "substitute_secrets"]

SECRET_REF = re.compile(r"secret://([A-Za-z_][A-Za-z0-9_.-]*)")


def _walk_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _walk_strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _walk_strings(item)


def find_secret_refs(value: Any) -> list[str]:
    """Names of every secret referenced anywhere in ``value``, in first-seen order."""
    names: dict[str, None] = {}
    for text in _walk_strings(value):
        for match in SECRET_REF.finditer(text):
            names.setdefault(match.group(1), None)
    return list(names)


def substitute_secrets(text: str, resolve: Callable[[str], str]) -> str:
    """Replace each ``secret://NAME`` in ``text`` by ``resolve(NAME)``."""

    def _one(match: re.Match[str]) -> str:
        value: object = resolve(match.group(1))
        if not isinstance(value, str):
            raise SecretError(f"secret {match.group(1)!r} did not resolve to a string")
        return value

    return SECRET_REF.sub(_one, text)
