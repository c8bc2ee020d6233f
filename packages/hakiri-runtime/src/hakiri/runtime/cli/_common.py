"""Options and helpers shared by commands."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from hakiri.core.cli_options import project_option
from hakiri.core.terminal import printable

if TYPE_CHECKING:
    from hakiri.core.manifest import Project

__all__ = ["echo_json", "echo_line", "json_option", "load_project_at", "project_option"]

F = TypeVar("F", bound=Callable[..., Any])


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")(func)


def load_project_at(project_dir: Path | None) -> Project:
    from hakiri.core.manifest import find_project_root, load_project

    root = project_dir if project_dir is not None else find_project_root(Path.cwd())
    return load_project(root)


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


def echo_line(text: str = "", *, err: bool = False) -> None:
    """One line for a person: control characters from data (ESC, OSC…) made visible."""
    click.echo(printable(text), err=err)
