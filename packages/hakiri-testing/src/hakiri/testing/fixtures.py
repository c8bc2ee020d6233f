"""Pytest fixtures shared by every member's tests.

A pytest plugin, registered once for the workspace by ``pytest_plugins`` in the root
conftest.py, so tests use the fixtures by name without importing them (no ``pytest11``
entry point, so installing this package never changes another project's test run).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from hakiri.testing.demo_api import DemoApi
from hakiri.testing.github_api import GithubApi
from hakiri.testing.host import TestHost
from hakiri.testing.net import free_port
from hakiri.testing.postgres import PostgresDatabase, PostgresServer, open_server
from hakiri.testing.s3 import S3Server
from hakiri.testing.store import committed_rows

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "demo_api",
    "free_port",
    "github_api",
    "make_host",
    "postgres_db",
    "postgres_server",
    "read_committed",
    "s3_server",
]


@pytest.fixture
def demo_api() -> Iterator[DemoApi]:
    """A started demo API on a free 127.0.0.1 port (100 issues), stopped afterwards."""
    with DemoApi(host="127.0.0.1", port=0) as api:
        yield api


@pytest.fixture
def github_api() -> Iterator[GithubApi]:
    """A started GitHub-compatible API on a free 127.0.0.1 port (no repositories, no token
    required: ``add_repo``, ``require_token``), stopped afterwards."""
    with GithubApi(host="127.0.0.1", port=0) as api:
        yield api


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the whole session: ``HAKIRI_TEST_POSTGRES_URL``'s, or
    one started on 127.0.0.1 (stopped and deleted at the end), shared by every module."""
    with open_server() as server:
        yield server


@pytest.fixture
def postgres_db(postgres_server: PostgresServer) -> Iterator[PostgresDatabase]:
    """A fresh, empty database on ``postgres_server``, dropped after the test."""
    database = postgres_server.create_database()
    try:
        yield database
    finally:
        postgres_server.drop_database(database)


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    """A real S3 API (moto's server) on a free 127.0.0.1 port for one test module, stopped
    afterwards. Tests share it: give each its own bucket (``new_bucket``)."""
    with S3Server() as server:
        yield server


@pytest.fixture
def make_host() -> Callable[[Path, Mapping[str, str]], TestHost]:
    """``(project_root, secrets) -> TestHost`` without a catalog: the host the connector
    conformance suite (``hakiri.connectors.testing``) builds its sources on."""

    def make(root: Path, secrets: Mapping[str, str]) -> TestHost:
        return TestHost(root, secrets=secrets)

    return make


@pytest.fixture
def read_committed() -> Callable[[Path, str], pa.Table]:
    """``(project_root, table) -> rows`` committed to the project's context store: what the
    connector conformance suite (``hakiri.connectors.testing``) reads a run's result with."""
    return committed_rows
