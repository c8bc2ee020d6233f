from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from hakiri.runtime.cli._common import (
    echo_json,
    echo_line,
    json_option,
    load_project_at,
    project_option,
)

__all__ = ["pipeline"]


@click.group()
def pipeline() -> None:
    """List and describe the project's pipelines."""


@pipeline.command("list")
@project_option
@json_option
def list_(project_dir: Path | None, as_json: bool) -> None:
    """List pipelines with their source, table and last run."""
    from hakiri.runtime.inspect import list_pipelines

    rows = list_pipelines(load_project_at(project_dir))
    if as_json:
        echo_json(rows)
        return
    if not rows:
        echo_line("no pipelines defined")
        return
    header = ("PIPELINE", "SOURCE", "TABLE", "WRITE", "LAST RUN")
    lines = [header]
    for row in rows:
        last = row["last_run"]
        status = f"{last['status']} {last['started_at'][:19]}" if last else "never run"
        lines.append((row["name"], row["source"], row["table"], row["write"], status))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        cells = (cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        echo_line("  ".join(cells).rstrip())


@pipeline.command()
@click.argument("name")
@click.option("--runs", default=10, show_default=True, help="How many recent runs to show.")
@project_option
@json_option
def describe(name: str, runs: int, project_dir: Path | None, as_json: bool) -> None:
    """Show a pipeline's definition, cursor, table, schema events and recent runs."""
    from hakiri.runtime.inspect import describe_pipeline

    info = describe_pipeline(load_project_at(project_dir), name, runs=runs)
    if as_json:
        echo_json(info)
        return
    _print_description(info)


def _print_description(info: dict[str, Any]) -> None:
    spec = info["spec"]
    echo_line(f"{info['name']}  (defined in {info['defined_in']})")
    if spec["description"]:
        echo_line(f"  {spec['description']}")
    source = {k: v for k, v in spec["source"].items() if k != "connector"}
    echo_line(f"source       {spec['source']['connector']} {source}")
    echo_line(
        f"destination  {spec['destination']['connector']} → {info['spec']['table']} "
        f"({spec['destination']['write']}, schema_policy {info['schema_policy']})"
    )
    if spec["schedule"]:
        echo_line(f"schedule     {spec['schedule']}")
    cursor = info["cursor"]
    if cursor:
        left = cursor["pages_left_from_interrupted_run"]
        resume = f"; {left} page(s) left from an interrupted run" if left is not None else ""
        echo_line(
            f"cursor       {cursor['position_summary']} "
            f"(v{cursor['version']}, {cursor['kind']}{resume})"
        )
    table = info["table"]
    if table:
        echo_line(
            f"table        {table['rows']:,} rows in {table['files']} file(s), "
            f"{table['bytes']:,} bytes, schema v{table['schema_version']}"
        )
        for column in table["columns"]:
            echo_line(f"  {column['name']}: {column['type']}")
    if info["events"]:
        echo_line("events")
        for event in info["events"]:
            echo_line(f"  {event['at'][:19]}  run {event['run_id']}  {_event_text(event)}")
    echo_line("runs" if info["runs"] else "runs         none yet")
    for run in info["runs"]:
        error = f"  {run['error']['code']}: {run['error']['message']}" if run["error"] else ""
        echo_line(
            f"  {run['started_at'][:19]}  {run['run_id']}  {run['status']:<15} "
            f"{run['rows']:>10,} rows{error}"
        )


def _event_text(event: dict[str, Any]) -> str:
    """One readable line per event: schema versions and schema decisions get their own."""
    # Imported here: `hakiri --help` loads this module, and the records are not light.
    from hakiri.core.records import SCHEMA_DECISION

    if event["kind"] == "schema_version":
        parts = [f"+{c}" for c in event["added"]] + [f"~{c}" for c in event["changed"]]
        parts += [f"-{c}" for c in event["removed"]]
        return f"schema v{event['to']}  {' '.join(parts)}".rstrip()
    if event["kind"] == SCHEMA_DECISION:
        text = (
            f"{event['column']}: {event['before'] or '(new)'} → {event['after']}  "
            f"{event['action']} ({event['policy']})"
        )
        rows = event.get("rows", 0)
        if event["action"] == "discarded":
            text += f", {rows:,} row(s) dropped"
        elif event["action"] == "variant":
            text += f", {rows:,} value(s) kept as JSON in {event.get('variant_column')}"
        elif event["action"] == "rejected":
            text += ", the run failed"
        return text
    details = {k: v for k, v in event.items() if k not in ("kind", "at", "run_id")}
    return f"{event['kind']}  {details}"
