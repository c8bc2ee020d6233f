"""Connections: secrets resolved at connect time, sessions pinned, errors made readable.

Every session is read-only (``default_transaction_read_only``) and speaks UTC / ISO, so a
``query`` cannot write and timestamps never depend on the server's settings.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from hakiri.connectors.postgres._psycopg import import_psycopg
from hakiri.connectors.postgres.config import PostgresSourceConfig
from hakiri.core.errors import ConfigError, HakiriError, SourceError, SourceUnreachable
from hakiri.core.ports import SecretResolver
from hakiri.core.secrets import substitute_secrets

if TYPE_CHECKING:
    import psycopg

__all__ = ["Connector", "translate_errors"]

_SESSION = (
    "SET TimeZone TO 'UTC'; SET DateStyle TO 'ISO, YMD'; SET IntervalStyle TO 'postgres'; "
    "SET extra_float_digits TO 3; SET default_transaction_read_only TO on"
)
_REDACTED = "***"


class Connector:
    """Opens sessions to the configured server; knows what to print instead of secrets."""

    def __init__(self, config: PostgresSourceConfig, secrets: SecretResolver) -> None:
        self._config = config
        self._secrets = secrets
        self._seen: list[str] = []
        self.address = "PostgreSQL"
        """``host:port/dbname`` once known: what messages name (never the password)."""

    def _resolve(self, name: str) -> str:
        value = self._secrets.resolve(name)
        if value:
            self._seen.append(value)
        return value

    def _conninfo(self) -> str:
        psycopg = import_psycopg()
        config = self._config
        if config.dsn is not None:
            conninfo = substitute_secrets(config.dsn, self._resolve)
        else:
            parts = {
                "host": config.host,
                "port": str(config.port),
                "user": config.user,
                "dbname": config.dbname,
                "sslmode": config.sslmode,
                "password": (
                    substitute_secrets(config.password, self._resolve) if config.password else None
                ),
            }
            conninfo = psycopg.conninfo.make_conninfo(
                **{k: v for k, v in parts.items() if v is not None}
            )
        try:
            params = psycopg.conninfo.conninfo_to_dict(conninfo)
        except psycopg.ProgrammingError as exc:
            raise ConfigError(
                f"postgres connector: option 'dsn' is not a connection string: "
                f"{self.redact(str(exc))}",
                hint="use postgresql://user@host:5432/dbname or 'host=… dbname=…'",
            ) from None
        host = str(params.get("host") or "localhost")
        port = str(params.get("port") or "5432")
        dbname = str(params.get("dbname") or params.get("user") or "")
        self.address = f"{host}:{port}" + (f"/{dbname}" if dbname else "")
        return conninfo

    def redact(self, text: str) -> str:
        """``text`` without any secret value this connector resolved."""
        for value in sorted(self._seen, key=len, reverse=True):
            if len(value) >= 3:
                text = text.replace(value, _REDACTED)
        return text

    def connect(self, *, autocommit: bool = True) -> psycopg.Connection[Any]:
        """A new session; ``SourceUnreachable`` (naming host:port only) when it fails."""
        pg = import_psycopg()
        conninfo = self._conninfo()
        try:
            con: psycopg.Connection[Any] = pg.connect(
                conninfo,
                autocommit=True,
                connect_timeout=self._config.connect_timeout,
                application_name="hakiri",
            )
        except pg.Error as exc:
            reason = " ".join(self.redact(str(exc)).split())
            raise SourceUnreachable(
                f"cannot connect to PostgreSQL at {self.address}: {reason}",
                hint="check that the server runs and accepts this user from here "
                "(host, port, dbname, the password secret, pg_hba.conf)",
            ) from None
        try:
            con.execute(_SESSION)
            con.autocommit = autocommit
        except BaseException:
            con.close()
            raise
        return con

    @contextmanager
    def errors(self, subject: str) -> Iterator[None]:
        """Turn psycopg errors raised inside the block into one-line Hakiri errors."""
        with translate_errors(subject, self.address, self.redact):
            yield


@contextmanager
def translate_errors(subject: str, address: str, redact: Any = str) -> Iterator[None]:
    """psycopg errors → ``ConfigError`` (what the options name does not exist),
    ``SourceUnreachable`` (the connection broke) or ``SourceError``."""
    psycopg = import_psycopg()
    try:
        yield
    except HakiriError:
        raise
    except psycopg.Error as exc:
        message = " ".join(redact(str(exc).splitlines()[0] if str(exc) else repr(exc)).split())
        sqlstate = getattr(exc, "sqlstate", None) or ""
        if sqlstate in ("42P01", "42703", "3F000", "42883", "42704"):
            # undefined table / column / schema / function / object: the options name it.
            raise ConfigError(
                f"postgres connector: {subject}: {message}",
                hint="check source.table, source.query and the column options",
            ) from None
        if sqlstate.startswith("42"):
            raise ConfigError(
                f"postgres connector: {subject}: {message}",
                hint="check source.query: it must be one valid SELECT",
            ) from None
        if isinstance(exc, psycopg.OperationalError) and not sqlstate:
            raise SourceUnreachable(
                f"lost the connection to PostgreSQL at {address}: {message}",
                hint="check the server; the run resumes from its last commit",
            ) from None
        raise SourceError(
            f"PostgreSQL at {address}: {subject}: {message}",
            hint="see the server's message; the run resumes from its last commit",
        ) from None
