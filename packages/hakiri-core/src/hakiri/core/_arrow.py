"""The arrow extra (pyarrow), loaded on first use.

``hakiri-core`` installs without pyarrow (a Lambda layer holds the manifest and the
schedules, not Arrow), so the Arrow-backed helpers (``batch``, ``evolution``) bind ``pa`` and
``pc`` to the stand-ins below instead of importing pyarrow: importing those modules costs
nothing, and the first use of an Arrow name imports pyarrow or raises ``MissingDependency``
naming the extra. Type checkers see the real modules (``if TYPE_CHECKING``).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from hakiri.core.errors import MissingDependency

__all__ = ["ARROW_HINT", "LazyModule", "pa", "pc", "require"]

ARROW_HINT = "install the arrow extra: pip install 'hakiri-core[arrow]'"


def require(name: str = "pyarrow") -> ModuleType:
    """Import ``name`` (``pyarrow``, ``pyarrow.compute``, …) or raise ``MissingDependency``."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise MissingDependency(
            f"hakiri-core's Arrow-backed helpers (batches, schemas, schema evolution, "
            f"table rendering) need {name}, which is not installed",
            hint=ARROW_HINT,
        ) from exc


class LazyModule:
    """A module imported at its first attribute lookup; each name is then cached here, so
    later lookups cost what a module attribute costs."""

    def __init__(self, name: str) -> None:
        self._module_name = name

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        value = getattr(require(self._module_name), attr)
        setattr(self, attr, value)
        return value

    def __repr__(self) -> str:
        return f"<lazy module {self._module_name!r}>"


pa: Any = LazyModule("pyarrow")
pc: Any = LazyModule("pyarrow.compute")
