"""Secrets for one request: resolved at the last moment, then kept out of everything stored.

Configs and page descriptors carry ``secret://NAME`` references only. A ``SecretScope``
resolves them through the host while a request is built and remembers the values it saw,
so that messages can be redacted, a URL the server hands back (a next link that echoes
an ``api_key`` parameter) can be turned back into references before it becomes a page, and
a response that echoes a value (a body repeating the ``Authorization`` header) is scrubbed
before it becomes rows — with ``hakiri.core.secrets.SecretScrubber``, as the WebAssembly
host scrubs its guests' responses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus

from hakiri.core.ports import SecretResolver
from hakiri.core.secrets import SecretScrubber, substitute_secrets

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["REDACTED", "SecretScope", "scrub_table"]

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

    def scrubber(self) -> SecretScrubber:
        """What scrubs a response of the request this scope built (falsy: no secrets)."""
        return SecretScrubber(self._names)

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


def scrub_table(table: pa.Table, scrubber: SecretScrubber) -> pa.Table:
    """``table`` with every secret value in its strings, nested ones included, replaced by
    its reference. The raw body was scrubbed already; this catches values a server escaped
    in a way the body scrub does not know (``\\u0041``…), once JSON is decoded."""
    import pyarrow as pa

    if not scrubber.values or table.num_rows == 0:
        return table
    columns = [
        pa.chunked_array([_scrub_array(c, scrubber) for c in column.chunks], type=column.type)
        for column in table.columns
    ]
    return pa.Table.from_arrays(columns, schema=table.schema)


def _scrub_array(array: Any, scrubber: SecretScrubber) -> Any:
    # Any: the stubs know no struct or list arrays apart from their base class.
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = array.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        for value, reference in scrubber.values:
            if pc.any(pc.match_substring(array, value)).as_py():
                array = pc.replace_substring(array, value, reference)
        return array
    if pa.types.is_struct(kind) and kind.num_fields:
        fields = [_scrub_array(child, scrubber) for child in array.flatten()]
        mask = array.is_null() if array.null_count else None
        return pa.StructArray.from_arrays(fields, fields=list(kind), mask=mask)
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        if array.offset:
            # A slice: rebuilding it from offsets and a null mask needs a fresh copy.
            array = pa.concat_arrays([array])
        values = _scrub_array(array.values, scrubber)
        cls = pa.ListArray if pa.types.is_list(kind) else pa.LargeListArray
        mask = array.is_null() if array.null_count else None
        return cls.from_arrays(array.offsets, values, type=kind, mask=mask)
    return array
