"""A real PostgreSQL server for tests, and a fresh database per test.

``HAKIRI_TEST_POSTGRES_URL`` (a superuser URL, e.g. ``postgresql://postgres@127.0.0.1/postgres``)
points the tests at a server someone else runs. Without it, ``LocalPostgres`` starts one
from the binaries the ``pgserver`` wheel bundles (or a system install): ``initdb`` into a
temporary directory, then ``postgres`` on a free 127.0.0.1 port with its socket in that
directory, durability switched off (a test server holds nothing worth an fsync), stopped
and deleted on ``stop()``.

PostgreSQL refuses to run as root. As root (a CI container), the server runs as the
unprivileged ``nobody`` user instead: the data directory is handed to it, and when the
bundled binaries are not reachable by that user (a virtualenv under ``/root``) they are
copied next to the data first. Nothing outside the temporary directory is changed.

psycopg is imported inside the functions that use it: this module loads without it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlsplit, urlunsplit

from hakiri.testing.net import free_port

__all__ = [
    "ENV_URL",
    "ExternalPostgres",
    "LocalPostgres",
    "PostgresDatabase",
    "PostgresServer",
    "find_postgres_bin",
    "open_server",
]

ENV_URL = "HAKIRI_TEST_POSTGRES_URL"
"""A superuser URL of a running server to test against instead of starting one."""

_UNPRIVILEGED = "nobody"
_START_TIMEOUT = 60.0
_SETTINGS = {
    # A throwaway server: no durability, little memory, no background noise in the log.
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "shared_buffers": "64MB",
    "max_connections": "50",
    "log_min_messages": "warning",
    "TimeZone": "UTC",
}


def _connect(dsn: str) -> Any:
    import psycopg

    return psycopg.connect(dsn, autocommit=True, connect_timeout=5)


def _with_database(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(dbname, safe="")))


@dataclass(frozen=True, slots=True)
class PostgresDatabase:
    """One database of a test server: its URL and a way to run SQL in it."""

    url: str
    name: str

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        """Run ``sql`` (one or more statements when ``params`` is None) in autocommit."""
        with _connect(self.url) as con:
            con.execute(sql, params)

    def fetch(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """The rows ``sql`` returns."""
        with _connect(self.url) as con:
            rows: list[tuple[Any, ...]] = con.execute(sql, params).fetchall()
            return rows


class PostgresServer(Protocol):
    """What the fixtures need from a server: where it is, and databases on demand."""

    @property
    def url(self) -> str:
        """A superuser URL of the ``postgres`` database."""
        ...

    def create_database(self) -> PostgresDatabase: ...

    def drop_database(self, database: PostgresDatabase) -> None: ...

    def stop(self) -> None: ...


class _Databases:
    """Create and drop uniquely named databases through a superuser URL."""

    url: str

    def create_database(self) -> PostgresDatabase:
        name = f"hakiri_test_{uuid.uuid4().hex[:12]}"
        with _connect(self.url) as con:
            con.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'")
        return PostgresDatabase(_with_database(self.url, name), name)

    def drop_database(self, database: PostgresDatabase) -> None:
        with _connect(self.url) as con:
            # FORCE: a test that leaked a connection must not keep its database alive.
            con.execute(f'DROP DATABASE IF EXISTS "{database.name}" WITH (FORCE)')


class ExternalPostgres(_Databases):
    """A server someone else runs (``HAKIRI_TEST_POSTGRES_URL``); never stopped by us."""

    def __init__(self, url: str) -> None:
        self.url = url

    def stop(self) -> None:
        return None


def _readable_by_all(path: Path) -> None:
    """``chmod a+rX``: readable by everyone, executable where the owner may execute."""
    mode = path.stat().st_mode | 0o444
    if path.is_dir() or mode & 0o100:
        mode |= 0o111
    path.chmod(mode)


def find_postgres_bin() -> Path:
    """The directory holding ``initdb`` and ``postgres``: pgserver's bundled build first,
    then ``pg_config --bindir``, then the ``postgres`` found on PATH."""
    import importlib.util

    spec = importlib.util.find_spec("pgserver")
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / "pginstall" / "bin"
        if (candidate / "postgres").is_file() and (candidate / "initdb").is_file():
            return candidate
    pg_config = shutil.which("pg_config")
    if pg_config:
        bindir = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if bindir and (Path(bindir) / "initdb").is_file():
            return Path(bindir)
    found = shutil.which("postgres")
    if found and (Path(found).resolve().parent / "initdb").is_file():
        return Path(found).resolve().parent
    raise RuntimeError(
        "no PostgreSQL binaries found: install the `pgserver` package (dev dependency), a "
        f"PostgreSQL server, or set {ENV_URL} to a running server's superuser URL"
    )


class LocalPostgres(_Databases):
    """A PostgreSQL server of our own on 127.0.0.1, in a temporary directory."""

    def __init__(self, bin_dir: Path | None = None) -> None:
        self._bin = bin_dir or find_postgres_bin()
        self._root = Path(tempfile.mkdtemp(prefix="hkpg-"))
        self._data = self._root / "data"
        self._log = self._root / "postgres.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._ids: tuple[int, int] | None = None  # (uid, gid) to run as, when we are root
        self.port = 0
        self.url = ""

    # -- start ------------------------------------------------------------------------------

    def start(self) -> LocalPostgres:
        try:
            self._prepare_user()
            self._initdb()
            for _ in range(3):  # a port picked free can be taken before postgres binds it
                self.port = free_port()
                if self._launch():
                    break
            else:
                raise RuntimeError(f"postgres did not start:\n{self.log_tail()}")
            self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        except BaseException:
            self.stop()
            raise
        return self

    def _prepare_user(self) -> None:
        if os.geteuid() != 0:
            return
        import pwd

        entry = pwd.getpwnam(_UNPRIVILEGED)
        self._ids = (entry.pw_uid, entry.pw_gid)
        self._root.chmod(0o755)
        os.chown(self._root, *self._ids)
        if not self._runs(["--version"]):
            # The user cannot reach the binaries (a virtualenv under /root): use a copy.
            self._bin = self._copy_install()

    def _copy_install(self) -> Path:
        """A copy of the install everyone can read; returns its ``bin``.

        pgserver's binaries find libpq through an RPATH relative to themselves
        (``$ORIGIN/../../../pgserver.libs``), so the copy keeps the two folders above the
        install and the ``<package>.libs`` folder beside them.
        """
        install = self._bin.parent
        target = self._root / "pg" / install.parent.name / install.name
        shutil.copytree(install, target, symlinks=True)
        libs = install.parent.parent / f"{install.parent.name}.libs"
        if libs.is_dir():
            shutil.copytree(libs, self._root / "pg" / libs.name, symlinks=True)
        for path in [self._root / "pg", *(self._root / "pg").rglob("*")]:
            if not path.is_symlink():
                _readable_by_all(path)
        return target / self._bin.name

    def _as_user(self) -> dict[str, Any]:
        if self._ids is None:
            return {}
        uid, gid = self._ids
        return {"user": uid, "group": gid, "extra_groups": []}

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C", TZ="UTC")
        return env

    def _runs(self, args: list[str]) -> bool:
        try:
            done = subprocess.run(
                [str(self._bin / "postgres"), *args],
                capture_output=True,
                env=self._env(),
                check=False,
                **self._as_user(),
            )
        except OSError:
            return False
        return done.returncode == 0

    def _initdb(self) -> None:
        done = subprocess.run(
            [
                str(self._bin / "initdb"),
                "-D",
                str(self._data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ],
            capture_output=True,
            text=True,
            env=self._env(),
            check=False,
            cwd=self._root,
            **self._as_user(),
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed ({done.returncode}):\n{done.stderr[-2000:]}")

    def _launch(self) -> bool:
        args = [str(self._bin / "postgres"), "-D", str(self._data), "-p", str(self.port)]
        args += ["-h", "127.0.0.1", "-k", str(self._root)]
        for name, value in _SETTINGS.items():
            args += ["-c", f"{name}={value}"]
        log = self._log.open("ab")
        try:
            self._proc = subprocess.Popen(
                args,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self._env(),
                cwd=self._root,
                start_new_session=True,  # a Ctrl-C of the test run is ours to handle
                **self._as_user(),
            )
        finally:
            log.close()
        return self._wait_ready()

    def _wait_ready(self) -> bool:
        import psycopg

        assert self._proc is not None
        dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._proc = None
                return False
            try:
                with psycopg.connect(dsn, connect_timeout=2):
                    return True
            except psycopg.OperationalError:
                time.sleep(0.05)
        raise RuntimeError(f"postgres did not accept connections:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        """The end of the server's log."""
        try:
            return "\n".join(self._log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    # -- stop -------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop the server (fast shutdown, then kill) and delete its directory."""
        self.halt()
        shutil.rmtree(self._root, ignore_errors=True)

    def halt(self) -> None:
        """Stop the server process and keep its data: every session is cut off, as in a
        server restart or a failover; ``resume()`` starts it again on the same port."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            # SIGINT is PostgreSQL's "fast" shutdown: sessions are ended, no waiting.
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)

    def resume(self) -> None:
        """Start the halted server again on its port, with its data."""
        if self._proc is not None:
            return
        if not self._launch():
            raise RuntimeError(f"postgres did not start again:\n{self.log_tail()}")

    def restart(self) -> None:
        """``halt()`` then ``resume()``: what a server restart does to its clients."""
        self.halt()
        self.resume()

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def open_server() -> Iterator[PostgresServer]:
    """The server tests use: ``HAKIRI_TEST_POSTGRES_URL``'s, or a local one started now and
    stopped on exit."""
    url = os.environ.get(ENV_URL)
    if url:
        yield ExternalPostgres(url)
        return
    with LocalPostgres() as server:
        yield server
