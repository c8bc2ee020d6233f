"""``hakiri source discover|sample``: look at a pipeline's source without running it."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hakiri.runtime.cli._common import (
    echo_json,
    echo_line,
    json_option,
    load_project_at,
    project_option,
)

__all__ = ["source"]


@click.group()
def source() -> None:
    """Look at a pipeline's source: its streams and a few of its rows. Writes nothing."""


@source.command()
@click.argument("pipeline")
@project_option
@json_option
def discover(pipeline: str, project_dir: Path | None, as_json: bool) -> None:
    """List the streams PIPELINE's source offers, with their columns where known."""
    from hakiri.runtime.sources import discover_pipeline

    info = discover_pipeline(load_project_at(project_dir), pipeline)
    if as_json:
        echo_json(info)
        return
    echo_line(f"{info['connector']} source of {pipeline}: {len(info['streams'])} stream(s)")
    for stream in info["streams"]:
        key = f"  key {', '.join(stream['primary_key'])}" if stream["primary_key"] else ""
        cursor = f"  cursor {stream['cursor_field']}" if stream["cursor_field"] else ""
        click.echo()
        echo_line(f"{stream['name']}{key}{cursor}")
        if stream["description"]:
            echo_line(f"  {stream['description']}")
        if stream["options"]:
            echo_line(f"  select with: {json.dumps(stream['options'])}")
        for column in stream["columns"] or []:
            echo_line(f"  {column['name']:<28} {column['type']}")
        if stream["columns"] is None:
            echo_line("  (columns are known once it is sampled or run)")


@source.command()
@click.argument("pipeline")
@click.option("--stream", default=None, help="Another stream of the same source (see discover).")
@click.option("--limit", type=click.IntRange(min=1, max=10_000), default=10, show_default=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="table escapes control characters (ESC…) visibly; json and csv are the exact data.",
)
@project_option
def sample(
    pipeline: str, stream: str | None, limit: int, fmt: str, project_dir: Path | None
) -> None:
    """Print up to LIMIT rows of PIPELINE's source, read live, without storing them."""
    from hakiri.core.render import render
    from hakiri.runtime.sources import sample_pipeline

    table = sample_pipeline(load_project_at(project_dir), pipeline, stream=stream, limit=limit)
    # color=True: click would strip what looks like ANSI styles from piped output, which
    # would change CSV data; the table and JSON formats hold no raw control characters.
    click.echo(render(table, fmt, limit), nl=False, color=True)
