"""The Postgres catalog's pool replaces connections the server closed, without a ping for
a connection used a moment ago (``catalog._pg_pool``)."""

from __future__ import annotations

import time

import pytest

from hakiri.context.catalog import _pg_pool
from hakiri.context.catalog.postgres import PostgresCatalog, parse_postgres_url
from hakiri.context.testing import commit_request, run_record
from hakiri.testing.postgres import PostgresDatabase

_OTHERS = (
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
    "AND pid <> pg_backend_pid()"
)


def _catalog(db: PostgresDatabase) -> PostgresCatalog:
    parsed, _, _ = parse_postgres_url("postgres://" + db.url.partition("://")[2])
    return PostgresCatalog(parsed)


def _terminate_sessions(db: PostgresDatabase) -> set[int]:
    pids = {int(row[0]) for row in db.fetch(_OTHERS)}
    for pid in pids:
        db.execute("SELECT pg_terminate_backend(%s)", [pid])
    deadline = time.monotonic() + 10
    while {int(row[0]) for row in db.fetch(_OTHERS)} & pids:
        assert time.monotonic() < deadline, "the terminated sessions never ended"
        time.sleep(0.02)
    return pids


@pytest.mark.parametrize("ping_after_idle_s", [3600.0, 0.0], ids=["socket", "ping"])
def test_a_connection_the_server_ended_is_replaced_before_the_next_commit(
    postgres_db: PostgresDatabase, monkeypatch: pytest.MonkeyPatch, ping_after_idle_s: float
) -> None:
    # "socket": the connection counts as just used, so only the socket poll can notice it.
    monkeypatch.setattr(_pg_pool, "PING_AFTER_IDLE_S", ping_after_idle_s)
    catalog = _catalog(postgres_db)
    try:
        catalog.create_run(run_record("r1"))
        catalog.commit(commit_request("r1"))
        ended = _terminate_sessions(postgres_db)
        assert ended

        catalog.commit(commit_request("r1", expected_version=1))

        cursor = catalog.get_cursor("issues")
        assert cursor is not None and cursor.version == 2
        assert not {int(row[0]) for row in postgres_db.fetch(_OTHERS)} & ended
    finally:
        catalog.close()
