"""Pooled Postgres connections the server has closed are replaced at checkout, without a
round trip for a connection that was in use a moment ago.

SQLAlchemy's ``pool_pre_ping`` sends ``SELECT 1`` on every checkout: one round trip more
on every commit (a commit checks a connection out). Instead, at checkout:

- The connection's socket is polled, without blocking. An idle connection has nothing to
  read unless the server ended the session — a restart or shutdown (FATAL, then the
  socket closes), a terminated backend, ``idle_session_timeout`` — so a readable socket
  means a dead connection, replaced before anything is sent on it. Free: one system call.
- A connection that sat in the pool for ``PING_AFTER_IDLE_S`` or longer is pinged as
  ``pool_pre_ping`` would, for what a socket cannot show (a peer gone without closing it:
  a crashed host, a partitioned network), likelier the longer it was unused.

Either way a dead connection raises ``DisconnectionError`` in the checkout event, and the
pool connects a new one in its place (or fails the checkout in one ``CatalogError`` line
when the server is unreachable), as with ``pool_pre_ping``.
"""

from __future__ import annotations

import select
import time
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError

__all__ = ["PING_AFTER_IDLE_S", "replace_dead_connections"]

PING_AFTER_IDLE_S = 1.0
_IDLE_SINCE = "hakiri_idle_since"


def replace_dead_connections(engine: Engine) -> None:
    """Make ``engine``'s pool replace the connections the server closed (see the module)."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if _hung_up(dbapi_connection):
            raise DisconnectionError("the catalog server closed this pooled connection")
        idle_since = record.info.pop(_IDLE_SINCE, None)
        if idle_since is not None and time.monotonic() - idle_since >= PING_AFTER_IDLE_S:
            _ping(engine, dbapi_connection)


def _hung_up(dbapi_connection: Any) -> bool:
    """Whether the server has closed the idle connection, or sent on it unasked."""
    if dbapi_connection.closed or dbapi_connection.broken:
        return True
    fd = dbapi_connection.fileno()
    if hasattr(select, "poll"):  # any descriptor number, unlike select()
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))
    readable, _, _ = select.select([fd], [], [], 0)
    return bool(readable)


def _ping(engine: Engine, dbapi_connection: Any) -> None:
    try:
        engine.dialect.do_ping(dbapi_connection)
        dbapi_connection.rollback()  # the ping opened a transaction; leave the session idle
    except engine.dialect.loaded_dbapi.Error as exc:
        raise DisconnectionError(f"the catalog server did not answer a ping: {exc}") from exc
