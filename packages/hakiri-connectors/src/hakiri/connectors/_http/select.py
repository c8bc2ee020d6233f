"""Dotted paths into response JSON: the record selector and the pagination fields."""

from __future__ import annotations

from typing import Any

from hakiri.core.errors import SourceError

__all__ = ["MISSING", "get_path", "select_records"]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""What ``get_path`` returns when a path does not exist (distinct from a JSON null)."""


def _split(path: str) -> list[str]:
    return [part for part in path.split(".") if part != ""]


def get_path(document: Any, path: str) -> Any:
    """The value at dotted ``path`` (``"data.items"``, ``"results.0.id"``), or ``MISSING``.

    A numeric part indexes an array; an empty path is the document itself.
    """
    value = document
    for part in _split(path):
        if isinstance(value, dict):
            if part not in value:
                return MISSING
            value = value[part]
        elif isinstance(value, list) and (part.isdigit() or part.startswith("-")):
            try:
                value = value[int(part)]
            except (IndexError, ValueError):
                return MISSING
        else:
            return MISSING
    return value


def _missing_part(document: Any, path: str) -> str:
    """The longest prefix of ``path`` that exists, for the error message."""
    parts = _split(path)
    for i in range(len(parts), 0, -1):
        if get_path(document, ".".join(parts[:i])) is not MISSING:
            return ".".join(parts[:i])
    return ""


def select_records(document: Any, path: str | None) -> list[dict[str, Any]]:
    """The records of a response.

    Without ``path`` the document itself: an array gives one record per element, an object
    one record. With ``path`` the value there, which must exist; null means no records.
    Elements that are not objects become ``{"value": element}`` rows.
    """
    if path:
        selected = get_path(document, path)
        if selected is MISSING:
            found = _missing_part(document, path)
            where = f"; {found!r} exists" if found else ""
            raise SourceError(
                f"the response has no {path!r} (source.records){where}",
                hint="check source.records against the API's response",
                path=path,
            )
    else:
        selected = document
    if selected is None:
        return []
    if isinstance(selected, dict):
        return [selected]
    if isinstance(selected, list):
        return [item if isinstance(item, dict) else {"value": item} for item in selected]
    what = "the response" if not path else repr(path)
    raise SourceError(
        f"{what} is a {type(selected).__name__}, not an array or object of records",
        hint="point source.records at the array of records",
        path=path,
    )
