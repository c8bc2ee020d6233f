"""The s3 extra's dependencies (aiobotocore, anyio), imported only when a client starts.

``import hakiri.core.objectstore.s3`` loads neither; a missing one becomes a
``MissingDependency`` that names the extra to install. The S3 object store and the s3
connector install it through different packages, so the caller names itself and the
command that installs the extra.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from hakiri.core.errors import MissingDependency

__all__ = ["STORE_INSTALL", "STORE_NEEDED_BY", "import_module"]

STORE_NEEDED_BY = "the S3 object store"
STORE_INSTALL = "pip install 'hakiri-core[s3]'"


def import_module(
    name: str, *, needed_by: str = STORE_NEEDED_BY, install: str = STORE_INSTALL
) -> ModuleType:
    """Module ``name`` of the s3 extra (``aiobotocore.session``, ``anyio.from_thread``, …)."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise MissingDependency(
            f"{needed_by} needs {name.split('.')[0]}, which is not installed",
            hint=f"install the s3 extra: {install}",
        ) from exc
