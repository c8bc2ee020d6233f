"""Internal test support for Hakiri: local servers, fixtures and a test host.

Not published. ``hakiri.testing.fixtures`` needs pytest; ``hakiri.testing.host`` and
``hakiri.testing.sources`` need hakiri-core; the demo API needs neither.

Names are loaded lazily so that ``python -m hakiri.testing.demo_api`` (or ``.synthetic``)
does not import the module twice (runpy warns when a package pre-imports the module it is
asked to run).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hakiri.testing.demo_api import DemoApi, LoggedRequest
    from hakiri.testing.net import free_port
    from hakiri.testing.synthetic import SyntheticServer

__all__ = ["DemoApi", "LoggedRequest", "SyntheticServer", "free_port"]

_HOMES = {
    "DemoApi": "hakiri.testing.demo_api",
    "LoggedRequest": "hakiri.testing.demo_api",
    "free_port": "hakiri.testing.net",
    "SyntheticServer": "hakiri.testing.synthetic",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'hakiri.testing' has no attribute {name!r}")
