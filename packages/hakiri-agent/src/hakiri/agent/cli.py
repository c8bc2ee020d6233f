"""``hakiri mcp``: serve the project's MCP tools over stdio, for an agent's MCP client.

Imported whenever the ``hakiri`` CLI starts, so it imports only click and core; the MCP SDK
loads when the command runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hakiri.core.errors import HakiriError

__all__ = ["mcp_command"]


@click.command("mcp")
@click.option(
    "-p",
    "--project",
    "project_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Project directory (default: the nearest one holding hakiri.toml).",
)
def mcp_command(project_dir: Path | None) -> None:
    """Serve MCP on stdin/stdout: tools to discover sources, read the context store's
    schemas, run read-only SQL and run pipelines (see docs/agent.md).
    """
    from hakiri.core.manifest import find_project_root, load_project

    try:
        root = project_dir if project_dir is not None else find_project_root(Path.cwd())
        # Fail now, on the terminal, rather than on the agent's first call.
        load_project(root)
    except HakiriError as err:
        click.echo(f"error[{err.code}]: {err.one_line()}", err=True)
        sys.exit(err.exit_code)

    from hakiri.agent.server import build_server

    build_server(root).run("stdio")
