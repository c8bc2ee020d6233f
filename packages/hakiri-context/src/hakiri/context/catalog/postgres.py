"""The Postgres catalog: one catalog for many writers on many machines.

``catalog = "postgres://user@host:5432/db?sslmode=require"`` in ``hakiri.toml``. The tables
are the SQLite catalog's (``_schema.metadata``, created and upgraded by the revisions of
``catalog.migrations``); the queries are ``SqlCatalog``'s. What differs is how concurrent
writers are kept apart, and that is the server's job:

- Transactions run at READ COMMITTED, Postgres's default: every statement sees every
  transaction committed before it started.
- A commit first takes two transaction-scoped advisory locks, ``pg_advisory_xact_lock``
  keyed by its pipeline and by its table (in that order, and only those two, so no two
  commits can wait on each other in a cycle). Commits of one pipeline — or into one
  table — therefore run one after the other, across processes and machines; the locks are
  released by the server at COMMIT or ROLLBACK, also when the client dies or its connection
  drops. Because the lock is taken before anything is read, the reads that follow (fence,
  cursor version, table, latest schema version) see the previous commit's writes, and the
  decisions ``_commit`` takes on them hold until this transaction ends. An advisory lock is
  used rather than ``SELECT … FOR UPDATE`` because the first commit of a pipeline has no
  cursor row or fence row to lock yet.
- The writes themselves are guarded a second time: the cursor update is a compare-and-set
  (``WHERE version = expected``), the fence update only moves forward, and the primary
  keys and unique constraints (one cursor per pipeline, one fence per key, a path published
  once, one schema version number per table) refuse anything that slipped past.
- A commit is one transaction. A connection lost in the middle (server restart, network
  cut, the client SIGKILLed) leaves none of it: the server rolls the open transaction back.
  The client sees a one-line ``CatalogError`` (``error[catalog_error]``). A client that
  stops half-way without closing (hung, partitioned) cannot hold the locks for long: each
  session sets ``idle_in_transaction_session_timeout = 60s`` (the server then ends it and
  rolls back), ``lock_timeout = 90s`` (a waiting commit fails instead of hanging), and TCP
  keepalives notice a vanished peer in about a minute.

Run records (``create_run``, ``finish_run``, ``interrupt_running``, steps) are single-row
or single-statement writes whose row locks and primary keys are enough.

The password is never in the URL: libpq's own ``PGPASSWORD`` / ``~/.pgpass``, or the
query parameter ``password=secret://NAME``, resolved at each connect by the project's
secret resolver (``$NAME``, else the project's ``.env``) when the catalog is opened for a
project, else from the environment. Other query parameters (``sslmode``, ``sslrootcert``,
``connect_timeout``…) pass through to libpq. ``mode=ro`` opens the catalog read-only:
every session runs with ``default_transaction_read_only = on``, so a write fails on the
server.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sqlalchemy import URL, Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from hakiri.context.catalog._direct import Direct
from hakiri.context.catalog._pg_pool import replace_dead_connections
from hakiri.context.catalog._sql import SqlCatalog, database_errors
from hakiri.context.catalog.migrations import (
    HEAD,
    NewerCatalog,
    SchemaStatus,
    schema_status,
    stored_revision,
    upgrade_schema,
)
from hakiri.core.errors import (
    CatalogError,
    CatalogNotFound,
    ConfigError,
    MissingDependency,
    SecretError,
)
from hakiri.core.ports import Clock, SecretResolver
from hakiri.core.records import CommitRequest
from hakiri.core.secrets import SECRET_REF

__all__ = ["PostgresCatalog", "open_postgres_catalog", "parse_postgres_url"]

SCHEMES = ("postgres", "postgresql")
_SCHEMA_LOCK = "hakiri.catalog.schema"
# libpq defaults the URL may override: give up connecting after 10 s, and notice a peer
# that vanished without closing (a partitioned network) in about a minute, not two hours.
_LIBPQ_DEFAULTS = {
    "connect_timeout": "10",
    "keepalives_idle": "30",
    "keepalives_interval": "10",
    "keepalives_count": "3",
}
# Every session: UTC, and no transaction of ours holds the commit locks for long. A client
# that stops half-way through a commit (hung, partitioned) is cut off by the server after
# 60 s idle in its transaction, which is rolled back and its locks released; a commit waits
# at most 90 s for a lock, then fails in one line instead of hanging.
_SESSION = (
    "SET TIME ZONE 'UTC'",
    "SET idle_in_transaction_session_timeout = '60s'",
    "SET lock_timeout = '90s'",
)


class PostgresCatalog(SqlCatalog):
    """The catalog in a Postgres database.

    ``url`` is a SQLAlchemy ``postgresql+psycopg`` URL without a password; ``password_secret``
    names the secret holding it, resolved at each connect through ``secrets`` (the
    project's; the environment when None), never stored in the engine or printed.
    ``read_only`` makes every session read-only and creates nothing.
    """

    def __init__(
        self,
        url: URL,
        *,
        password_secret: str | None = None,
        secrets: SecretResolver | None = None,
        read_only: bool = False,
        clock: Clock | None = None,
    ) -> None:
        self.url = url
        self.read_only = read_only
        password = _password_source(password_secret, secrets)
        engine = _engine(url, password=password, read_only=read_only)
        super().__init__(engine, clock=clock)
        try:
            if read_only:
                with self._read() as conn:
                    if stored_revision(conn) != HEAD:
                        if not inspect(conn).has_table("runs"):
                            raise CatalogNotFound(
                                f"no Hakiri catalog in {self._where} yet",
                                hint="run `hakiri run PIPELINE` first: a run creates it",
                            )
                        schema_status(conn, where=self._where)  # refuses a newer catalog
            else:
                create_schema(engine, where=self._where)
        except BaseException:
            engine.dispose()
            raise

    @property
    def _where(self) -> str:
        return self.url.render_as_string(hide_password=True)

    def schema_status(self) -> SchemaStatus:
        """The catalog's schema revision against this Hakiri's; reads only."""
        with self._read() as conn:
            return schema_status(conn, where=self._where)

    def upgrade_schema(self) -> SchemaStatus:
        """Apply the pending schema revisions (under the schema lock); the status found."""
        with self._write() as conn:
            _advisory_xact_lock(conn, _SCHEMA_LOCK)
            return upgrade_schema(conn, where=self._where)

    def _lock_commit(self, conn: Connection, request: CommitRequest) -> None:
        # Pipeline first, then table: every commit takes them in this order, so two
        # commits never wait on each other in a cycle. See the module docstring.
        pipeline, table = f"hakiri.pipeline:{request.pipeline}", f"hakiri.table:{request.table}"
        _COMMIT_LOCKS.rowcount(conn, {"pipeline": pipeline, "table": table})

    def __repr__(self) -> str:
        mode = ", read_only=True" if self.read_only else ""
        return f"PostgresCatalog({self.url.render_as_string(hide_password=True)!r}{mode})"


def create_schema(engine: Engine, *, where: str) -> None:
    """Bring the catalog's schema to the head revision (``catalog.migrations``), once even
    when several processes open a fresh or older database at the same moment (``CREATE
    TABLE`` is not safe against a concurrent one; the advisory lock makes the second wait
    and then find it done). A catalog newer than this Hakiri is refused unchanged."""
    with database_errors():
        # Look before taking the lock: opening an existing catalog (every command does)
        # need not queue behind another process opening it.
        with engine.connect() as conn:
            if stored_revision(conn) == HEAD:
                return
        with engine.begin() as conn:
            _advisory_xact_lock(conn, _SCHEMA_LOCK)
            upgrade_schema(conn, where=where)


# Both commit locks in one round trip. Postgres evaluates a select list left to right, so
# the pipeline's lock is still taken before the table's.
_COMMIT_LOCKS = Direct(
    text(
        "SELECT pg_advisory_xact_lock(hashtextextended(:pipeline, 0)), "
        "pg_advisory_xact_lock(hashtextextended(:table, 0))"
    )
)


def _advisory_xact_lock(conn: Connection, key: str) -> None:
    # hashtextextended: a stable 64-bit key for any text; a collision only serializes
    # two unrelated commits, never lets two related ones overlap.
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key})


def _engine(url: URL, *, password: Callable[[], str] | None, read_only: bool) -> Engine:
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise MissingDependency(
            "the Postgres catalog needs psycopg",
            hint="install hakiri-context[postgres] (psycopg 3)",
        ) from exc
    engine = create_engine(url, pool_size=2, max_overflow=2)
    # A pooled connection the server dropped (restart, idle timeout) is replaced at
    # checkout instead of failing the next statement; cheaper than pool_pre_ping.
    replace_dead_connections(engine)

    @event.listens_for(engine, "do_connect")
    def _password(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
        if password is not None:
            cparams["password"] = password()
        for name, value in _LIBPQ_DEFAULTS.items():
            cparams.setdefault(name, value)

    @event.listens_for(engine, "connect")
    def _session(dbapi_connection: Any, _record: Any) -> None:
        settings = list(_SESSION)
        if read_only:
            settings.append("SET default_transaction_read_only = on")
        cursor = dbapi_connection.cursor()
        try:
            for statement in settings:
                cursor.execute(statement)
        finally:
            cursor.close()
        # The SETs ran in an implicit transaction; end it so they are not rolled back.
        dbapi_connection.commit()

    return engine


def _password_source(name: str | None, secrets: SecretResolver | None) -> Callable[[], str] | None:
    """What gives the password at each connect: the secret ``name`` through ``secrets``,
    or the environment variable ``name`` when the catalog was opened without a project."""
    if name is None:
        return None
    if secrets is not None:
        return lambda: secrets.resolve(name)

    def from_environment() -> str:
        value = os.environ.get(name)
        if not value:
            raise SecretError(
                f"secret {name!r} (the Postgres catalog's password) is not set",
                hint=f"export {name}=… before running hakiri",
                secret=name,
            )
        return value

    return from_environment


def parse_postgres_url(url: str) -> tuple[URL, str | None, bool]:
    """``(SQLAlchemy URL, password secret name, read_only)`` of a ``postgres://`` URL.

    A password written in the URL itself is refused (it would end up in shell history,
    logs and ``hakiri.toml``); ``password=secret://NAME`` names where it is instead.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0].lower()
    if scheme not in SCHEMES:
        raise ConfigError(f"not a Postgres catalog URL: {_safe(url)!r}")
    if parts.password is not None:
        raise ConfigError(
            f"the Postgres catalog URL {_safe(url)!r} holds a password",
            hint="remove it and use ?password=secret://NAME, PGPASSWORD or ~/.pgpass",
        )
    query: dict[str, str] = {}
    secret: str | None = None
    read_only = False
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name == "password":
            match = SECRET_REF.fullmatch(value)
            if match is None:
                raise ConfigError(
                    "the Postgres catalog URL's password parameter must be a secret://NAME "
                    "reference, never the password itself",
                    hint="e.g. ?password=secret://HAKIRI_CATALOG_PASSWORD",
                )
            secret = match.group(1)
        elif name == "mode":
            if value not in ("ro", "rw"):
                raise ConfigError(f"Postgres catalog URL: mode must be ro or rw, not {value!r}")
            read_only = value == "ro"
        else:
            query[name] = value  # sslmode, sslrootcert…: libpq's to interpret
    rest = parts._replace(scheme="postgresql+psycopg", query="").geturl()
    try:
        parsed = make_url(rest).update_query_dict(query)
    except ArgumentError as exc:
        raise ConfigError(f"cannot read the Postgres catalog URL {_safe(url)!r}: {exc}") from None
    if not parsed.database:
        raise ConfigError(
            f"the Postgres catalog URL {_safe(url)!r} names no database",
            hint="use postgres://user@host:5432/DATABASE",
        )
    return parsed, secret, read_only


def _safe(url: str) -> str:
    """``url`` with any password written into it masked, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{parts.username or ''}:***@{host}").geturl()


def open_postgres_catalog(url: str, *, secrets: SecretResolver | None = None) -> PostgresCatalog:
    """The ``hakiri.catalogs`` entry point for ``postgres://`` and ``postgresql://`` URLs;
    creates the tables on first open (unless ``?mode=ro``). ``secrets`` resolves the
    password's ``secret://NAME`` (``hakiri.core.plugins.open_catalog`` passes the project's)."""
    parsed, secret, read_only = parse_postgres_url(url)
    try:
        return PostgresCatalog(parsed, password_secret=secret, secrets=secrets, read_only=read_only)
    except (NewerCatalog, CatalogNotFound):
        raise  # reachable and read: the fix is a newer Hakiri or a first run, not the URL
    except CatalogError as exc:
        raise CatalogError(
            f"cannot open the Postgres catalog {_safe(url)!r}: {exc.message}",
            hint="check the server is up and the URL's host, port, database and user "
            "(password: ?password=secret://NAME, PGPASSWORD or ~/.pgpass)",
        ) from exc
