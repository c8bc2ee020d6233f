"""The s3 extra's dependencies (aiobotocore, anyio), imported only when a client starts.

``import hakiri.core.objectstore.s3`` loads neither; a missing one becomes a
``MissingDependency`` that names the extra to install.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from hakiri.core.errors import MissingDependency

__all__ = ["import_module"]


def import_module(name: str) -> ModuleType:
    """Module ``name`` of the s3 extra (``aiobotocore.session``, ``anyio.from_thread``, …)."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise MissingDependency(
            f"the S3 object store needs {name.split('.')[0]}, which is not installed",
            hint="install the s3 extra: pip install 'hakiri-core[s3]'",
        ) from exc
