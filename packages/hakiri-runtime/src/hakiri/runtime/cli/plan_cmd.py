from __future__ import annotations

from pathlib import Path

import click

from hakiri.runtime.cli._common import (
    echo_json,
    echo_line,
    json_option,
    load_project_at,
    project_option,
)

__all__ = ["plan"]


@click.command()
@click.argument("pipeline")
@project_option
@json_option
def plan(pipeline: str, project_dir: Path | None, as_json: bool) -> None:
    """Show what a run of PIPELINE would read, without reading or writing anything."""
    from hakiri.runtime.inspect import plan_pipeline

    project = load_project_at(project_dir)
    info = plan_pipeline(project, pipeline)
    if as_json:
        echo_json(info)
        return
    echo_line(f"pipeline  {info['pipeline']} ({info['source']} → {info['table']}, {info['write']})")
    echo_line(f"mode      {info['mode']}")
    if info["position"] is not None:
        echo_line(f"cursor    {info['position_summary']} (version {info['cursor_version']})")
    echo_line(f"reads     {info['description']}")
    echo_line(f"pages     {len(info['pages'])} known now (more are discovered while reading)")
