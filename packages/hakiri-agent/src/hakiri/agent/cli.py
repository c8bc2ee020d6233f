"""``hakiri mcp`` (the project's MCP tools over stdio, for an agent's MCP client) and
``hakiri serve`` (the daemon: HTTP API, scheduler, MCP over HTTP).

Imported whenever the ``hakiri`` CLI starts, so it imports only click and core; the MCP SDK,
starlette and uvicorn load when a command runs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from hakiri.core.cli_options import project_option
from hakiri.core.errors import ConfigError, HakiriError

__all__ = ["mcp_command", "serve_command"]


TOKEN_ENV = "HAKIRI_SERVE_TOKEN"
_MIN_TOKEN = 16


def _fail(err: HakiriError) -> None:
    click.echo(f"error[{err.code}]: {err.one_line()}", err=True)
    sys.exit(err.exit_code)


def _project_root(project_dir: Path | None) -> Path:
    """The project's root, its manifest checked now (on the terminal, not on the first
    request)."""
    from hakiri.core.manifest import find_project_root, load_project

    root = project_dir if project_dir is not None else find_project_root(Path.cwd())
    load_project(root)
    return root.resolve()


@click.command("mcp")
@project_option
def mcp_command(project_dir: Path | None) -> None:
    """Serve MCP on stdin/stdout: tools to discover sources, read the context store's
    schemas, run read-only SQL and run pipelines (see docs/agent.md).
    """
    try:
        root = _project_root(project_dir)
    except HakiriError as err:
        _fail(err)

    from hakiri.agent.server import build_server

    build_server(root).run("stdio")


@click.command("serve")
@project_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port",
    default=7700,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to bind (0: any free port; the log says which).",
)
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help=f"File holding the bearer token (else ${TOKEN_ENV}). Required off loopback.",
)
@click.option(
    "--scheduler/--no-scheduler",
    default=True,
    show_default=True,
    help="Run pipelines by their `schedule`.",
)
@click.option(
    "--mcp-http/--no-mcp-http",
    default=True,
    show_default=True,
    help="Serve MCP over streamable HTTP at /mcp.",
)
@click.option(
    "--drain-timeout",
    default=60.0,
    show_default=True,
    type=click.FloatRange(0),
    help="On SIGTERM, seconds to wait for runs in flight.",
)
@click.option(
    "--allow-origin",
    "allow_origins",
    multiple=True,
    metavar="URL",
    help="A web origin (scheme://host[:port]) whose pages may call the daemon from a "
    "browser; repeatable. Every other origin but the daemon's own is refused (403).",
)
@click.option(
    "--read-timeout",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help="Seconds a client has to send a request's headers, then again its body.",
)
@click.option(
    "--max-body",
    default=1 << 20,
    show_default=True,
    type=click.IntRange(1),
    help="The largest request body in bytes (413 beyond).",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
@click.option("--access-log/--no-access-log", default=False, help="Log every request.")
def serve_command(
    project_dir: Path | None,
    host: str,
    port: int,
    token_file: Path | None,
    scheduler: bool,
    mcp_http: bool,
    drain_timeout: float,
    allow_origins: tuple[str, ...],
    read_timeout: float,
    max_body: int,
    log_level: str,
    access_log: bool,
) -> None:
    """Run the daemon: the HTTP API (/v1/..., /openapi.json), the scheduler and MCP over
    HTTP (/mcp) for one project. SIGHUP reloads hakiri.toml; SIGTERM drains runs and exits.
    """
    try:
        root = _project_root(project_dir)
        token = _token(token_file, host)
        origins = _origins(allow_origins)
    except HakiriError as err:
        _fail(err)

    from hakiri.agent.daemon.serve import bind, serve
    from hakiri.agent.daemon.state import ServeConfig

    try:
        sock = bind(host, port)
    except OSError as exc:
        _fail(
            ConfigError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                hint="pick another --port (0: any free port) or stop what holds this one",
            )
        )
    config = ServeConfig(
        root=root,
        host=host,
        port=port,
        token=token,
        scheduler=scheduler,
        mcp=mcp_http,
        drain_timeout=drain_timeout,
        allow_origins=origins,
        max_body=max_body,
        read_timeout=read_timeout,
    )
    status = serve(config, sock, log_level=log_level, access_log=access_log)
    if status == 3:
        # A run still in flight may wait on a source's thread pool, which a normal exit
        # joins (a hung request: until its timeout). The next run resumes it, as after a crash.
        os._exit(status)
    sys.exit(status)


def _origins(values: tuple[str, ...]) -> frozenset[str]:
    from hakiri.agent.daemon.guard import origins

    try:
        return origins(values)
    except ValueError as exc:
        raise ConfigError(
            f"--allow-origin {exc}",
            hint="give an origin as a browser sends it, e.g. --allow-origin http://localhost:6274",
        ) from None


def _token(token_file: Path | None, host: str) -> str | None:
    from hakiri.agent.daemon.app import LOOPBACK

    if token_file is not None:
        token: str | None = token_file.read_text(encoding="utf-8").strip()
    else:
        token = os.environ.get(TOKEN_ENV, "").strip() or None
    if token is not None and len(token) < _MIN_TOKEN:
        raise ConfigError(
            f"the bearer token is {len(token)} characters; at least {_MIN_TOKEN} are needed",
            hint="make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'",
        )
    if token is None and host not in LOOPBACK:
        raise ConfigError(
            f"binding to {host} (not loopback) needs a bearer token",
            hint=f"set ${TOKEN_ENV} or pass --token-file, or bind to 127.0.0.1",
        )
    return token
