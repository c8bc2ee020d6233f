"""``secret://NAME`` references: found in configs, resolved only by the host.

``EnvSecretResolver`` is the host's resolver for a project: the process environment first,
then the project's ``.env``. It lives in core because more than the runtime resolves
secrets — a Postgres catalog's password is one, opened by the store and the CLI too.

``SecretScrubber`` turns the values a request used back into their references in whatever a
server answers — raw, URL-encoded or JSON-escaped — so that a source that echoes a token
(an httpbin-style echo, a next link repeating an ``api_key``) never gets it stored. The
http connector and the WebAssembly host both scrub with it, so the two cannot drift.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from hakiri.core.errors import SecretError

__all__ = [
    "SECRET_REF",
    "EnvSecretResolver",
    "SecretScrubber",
    "find_secret_refs",
    "secret_forms",
    "substitute_secrets",
]

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


_PERCENT = re.compile(r"%[0-9A-F]{2}")


def secret_forms(value: str) -> set[str]:
    """The forms ``value`` takes when a server echoes it: raw, in a URL (``%XX`` in either
    case, ``+`` for spaces) and inside a JSON string (``\\uXXXX`` or not, ``\\/`` or not)."""
    forms = {value}
    for encoded in (quote(value, safe=""), quote_plus(value)):
        forms |= {encoded, _PERCENT.sub(lambda m: m.group(0).lower(), encoded)}
    for escaped in (json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]):
        forms |= {escaped, escaped.replace("/", "\\/")}
    return forms - {""}


class SecretScrubber:
    """Replaces every form of the secret values one request used by their references.

    ``used`` maps each value to its secret's name (``{"s3cr3t": "API_TOKEN"}`` turns
    ``s3cr3t`` into ``secret://API_TOKEN``). Longer forms go first, so a value containing
    another is replaced whole. Falsy when there is nothing to scrub.
    """

    def __init__(self, used: Mapping[str, str]) -> None:
        forms: dict[bytes, bytes] = {}
        for value, name in used.items():
            reference = f"secret://{name}".encode()
            for form in secret_forms(value):
                forms.setdefault(form.encode("utf-8", "surrogateescape"), reference)
        self.forms: tuple[tuple[bytes, bytes], ...] = tuple(
            sorted(forms.items(), key=lambda item: len(item[0]), reverse=True)
        )
        self._values = tuple(
            sorted(
                ((value, f"secret://{name}") for value, name in used.items() if value),
                key=lambda item: len(item[0]),
                reverse=True,
            )
        )

    def __bool__(self) -> bool:
        return bool(self.forms)

    def scrub(self, data: bytes) -> bytes:
        """``data`` with every form of every value replaced by its reference."""
        for form, reference in self.forms:
            if form in data:
                data = data.replace(form, reference)
        return data

    def scrub_text(self, text: str) -> str:
        """``scrub`` for text (undecodable characters kept as they were)."""
        if not self.forms:
            return text
        return self.scrub(text.encode("utf-8", "surrogateescape")).decode(
            "utf-8", "surrogateescape"
        )

    @property
    def values(self) -> tuple[tuple[str, str], ...]:
        """(raw value, reference), longest first: for values a parser has already decoded,
        where only the raw form can remain."""
        return self._values


class EnvSecretResolver:
    """Resolves ``secret://NAME`` from ``$NAME`` or from ``NAME=…`` in ``<project>/.env``.

    The environment wins so CI and daemons can override a developer's ``.env``.
    """

    def __init__(self, project_root: Path) -> None:
        self._dotenv_path = project_root / ".env"
        self._dotenv: dict[str, str | None] | None = None

    def _dotenv_values(self) -> dict[str, str | None]:
        if self._dotenv is None:
            if self._dotenv_path.is_file():
                from dotenv import dotenv_values

                self._dotenv = dict(dotenv_values(self._dotenv_path))
            else:
                self._dotenv = {}
        return self._dotenv

    def resolve(self, name: str) -> str:
        value = os.environ.get(name)
        if value is None:
            value = self._dotenv_values().get(name)
        if value is None or value == "":
            raise SecretError(
                f"secret {name!r} is not set",
                hint=f"export {name}=… or add {name}=… to {self._dotenv_path}",
                secret=name,
            )
        return value
