"""Pytest fixtures shared by every member's tests.

Import them explicitly where they are used (no ``pytest11`` entry point, so installing
this package never changes another project's test run)::

    from hakiri.testing.fixtures import demo_api  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hakiri.testing.demo_api import DemoApi
from hakiri.testing.net import free_port

__all__ = ["demo_api", "free_port"]


@pytest.fixture
def demo_api() -> Iterator[DemoApi]:
    """A started demo API on a free 127.0.0.1 port (100 issues), stopped afterwards."""
    with DemoApi(host="127.0.0.1", port=0) as api:
        yield api
