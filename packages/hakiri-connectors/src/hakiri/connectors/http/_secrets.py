"""Secrets for one request: resolved at the last moment, then kept out of everything stored.

Configs and page descriptors carry ``secret://NAME`` references only. A ``SecretScope``
resolves them through the host while a request is built and remembers the values it saw,
so that messages can be redacted and a URL the server hands back (a next link that echoes
an ``api_key`` parameter) can be turned back into references before it becomes a page.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, quote_plus

from hakiri.core.ports import SecretResolver
from hakiri.core.secrets import substitute_secrets

__all__ = ["REDACTED", "SecretScope"]

REDACTED = "***"
_MIN_REVERSIBLE = 4
"""Values shorter than this are not mapped back to references: replacing every "ab" in a
URL would corrupt it, and a value that short protects nothing anyway."""


class SecretScope:
    """Resolves ``secret://`` references and remembers the values it produced."""

    def __init__(self, resolver: SecretResolver) -> None:
        self._resolver = resolver
        self._names: dict[str, str] = {}  # value -> name

    def _resolve(self, name: str) -> str:
        value = self._resolver.resolve(name)
        if isinstance(value, str) and value:
            self._names[value] = name
        return value

    def text(self, text: str) -> str:
        """``text`` with every reference replaced by its value."""
        return substitute_secrets(text, self._resolve) if "secret://" in text else text

    def json(self, value: Any) -> Any:
        """A JSON-like value with references replaced in every string."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.json(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json(v) for v in value]
        return value

    def _by_length(self) -> list[tuple[str, str]]:
        # Longest first, so a value containing another is replaced whole.
        return sorted(self._names.items(), key=lambda item: len(item[0]), reverse=True)

    def redact(self, text: str) -> str:
        """``text`` with every resolved value (raw or URL-encoded) replaced by ``***``."""
        for value, _ in self._by_length():
            for form in {value, quote(value, safe=""), quote_plus(value)}:
                text = text.replace(form, REDACTED)
        return text

    def to_refs(self, text: str) -> str:
        """``text`` with resolved values turned back into their ``secret://`` references."""
        for value, name in self._by_length():
            if len(value) < _MIN_REVERSIBLE:
                continue
            for form in {value, quote(value, safe=""), quote_plus(value)}:
                text = text.replace(form, f"secret://{name}")
        return text

    def to_refs_json(self, value: Any) -> Any:
        """``to_refs`` applied to every string (keys included) of a JSON-like value."""
        if isinstance(value, str):
            return self.to_refs(value)
        if isinstance(value, dict):
            return {self.to_refs(str(k)): self.to_refs_json(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.to_refs_json(v) for v in value]
        return value
