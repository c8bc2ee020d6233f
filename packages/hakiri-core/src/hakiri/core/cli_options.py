"""Command-line options that the commands of every member share.

Each member's CLI (the runtime's, ``hakiri query`` / ``compact``, ``hakiri serve`` / ``mcp``)
declares these instead of its own copy, so a flag reads and behaves the same in every
command. click is imported when an option is declared, not with this module: hakiri-core
installs without it (extra ``cli``; every member with a CLI depends on click itself).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["project_option"]

F = TypeVar("F", bound=Callable[..., Any])


def project_option(func: F) -> F:
    """``-p`` / ``--project DIRECTORY``, passed as ``project_dir`` (None: the nearest
    directory holding hakiri.toml)."""
    import click

    return click.option(
        "-p",
        "--project",
        "project_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Project directory (default: the nearest one holding hakiri.toml).",
    )(func)
