"""Hakiri core: the types, the manifest and the ports every other member builds on.

Importing this package is cheap: the names below load on first use, so a command that needs
only errors does not pay for pydantic. pyarrow is an extra (``hakiri-core[arrow]``): no module
here imports it until an Arrow-backed helper is used.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hakiri.core.cursor import Cursor, CursorKind
    from hakiri.core.due import due_pipelines
    from hakiri.core.errors import HakiriError
    from hakiri.core.manifest import PipelineSpec, Project, load_project
    from hakiri.core.records import Page, PageData, Plan, RunStatus, WriteDisposition

__all__ = [
    "Cursor",
    "CursorKind",
    "HakiriError",
    "Page",
    "PageData",
    "PipelineSpec",
    "Plan",
    "Project",
    "RunStatus",
    "WriteDisposition",
    "due_pipelines",
    "load_project",
]

_HOME = {
    "Cursor": "cursor",
    "CursorKind": "cursor",
    "due_pipelines": "due",
    "HakiriError": "errors",
    "PipelineSpec": "manifest",
    "Project": "manifest",
    "load_project": "manifest",
    "Page": "records",
    "PageData": "records",
    "Plan": "records",
    "RunStatus": "records",
    "WriteDisposition": "records",
}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(import_module(f"hakiri.core.{_HOME[name]}"), name)
    raise AttributeError(f"module 'hakiri.core' has no attribute {name!r}")
