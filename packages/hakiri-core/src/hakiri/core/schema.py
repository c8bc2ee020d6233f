"""Table schemas, Arrow-backed, with a stable JSON form for the catalog and for agents."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa
else:
    from hakiri.core._arrow import pa

__all__ = ["Field", "Schema"]


@dataclass(frozen=True, slots=True)
class Field:
    """One column, described for people: name, Arrow type as text, nullability."""

    name: str
    type: str
    nullable: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "nullable": self.nullable}


@dataclass(frozen=True, slots=True)
class Schema:
    """A table schema.

    ``arrow_ipc`` is the exact Arrow schema (IPC-serialised) so a round trip loses nothing;
    ``fields`` is the readable description stored beside it.
    """

    fields: tuple[Field, ...]
    arrow_ipc: bytes

    @classmethod
    def from_arrow(cls, schema: pa.Schema) -> Schema:
        fields = tuple(Field(f.name, str(f.type), f.nullable) for f in schema)
        return cls(fields=fields, arrow_ipc=schema.remove_metadata().serialize().to_pybytes())

    def to_arrow(self) -> pa.Schema:
        return pa.ipc.read_schema(pa.py_buffer(self.arrow_ipc))

    @property
    def fingerprint(self) -> str:
        """A short, stable identity of the exact Arrow schema."""
        return hashlib.sha256(self.arrow_ipc).hexdigest()[:16]

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    def to_dict(self) -> dict[str, Any]:
        return {
            "fields": [f.to_dict() for f in self.fields],
            "fingerprint": self.fingerprint,
            "arrow": base64.b64encode(self.arrow_ipc).decode("ascii"),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schema:
        fields = tuple(
            Field(f["name"], f["type"], bool(f.get("nullable", True))) for f in data["fields"]
        )
        return cls(fields=fields, arrow_ipc=base64.b64decode(data["arrow"]))
