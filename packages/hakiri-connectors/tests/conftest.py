"""Fixtures of the connector tests: the demo API, Postgres, the store reader the conformance
suite needs, and a test host with one secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from hakiri.testing.fixtures import (  # noqa: F401  (fixtures, used by name)
    demo_api,
    postgres_db,
    postgres_server,
    read_committed,
)
from hakiri.testing.host import TestHost


@pytest.fixture
def secret_value() -> str:
    """The value of secret ``TOKEN`` in ``host``."""
    return "tok-3f9a-very-secret"


@pytest.fixture
def host(tmp_path: Path, secret_value: str) -> TestHost:
    """A host on ``tmp_path`` with secret ``TOKEN``."""
    return TestHost(tmp_path, secrets={"TOKEN": secret_value})
