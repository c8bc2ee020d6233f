"""Hakiri core: the types, the manifest and the ports every other member builds on.

Importing this package is cheap: nothing here imports pyarrow until a batch or schema is
converted (``hakiri.core.batch`` imports it on purpose).
"""

from hakiri.core.cursor import Cursor, CursorKind
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
    "load_project",
]
