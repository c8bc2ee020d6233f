"""Fixtures of the connector tests: a test host with one secret (the demo API, Postgres and
the store reader the conformance suite needs come from the ``hakiri.testing.fixtures``
plugin, registered in the root conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hakiri.testing.host import TestHost


@pytest.fixture
def secret_value() -> str:
    """The value of secret ``TOKEN`` in ``host``."""
    return "tok-3f9a-very-secret"


@pytest.fixture
def host(tmp_path: Path, secret_value: str) -> TestHost:
    """A host on ``tmp_path`` with secret ``TOKEN``."""
    return TestHost(tmp_path, secrets={"TOKEN": secret_value})
