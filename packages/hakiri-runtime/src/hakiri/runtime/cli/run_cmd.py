from __future__ import annotations

import sys
from pathlib import Path

import click

from hakiri.runtime.cli._common import echo_json, json_option, load_project_at, project_option

__all__ = ["run"]


@click.command()
@click.argument("pipelines", nargs=-1)
@click.option("--all", "run_all", is_flag=True, help="Run every pipeline of the project.")
@project_option
@json_option
def run(pipelines: tuple[str, ...], run_all: bool, project_dir: Path | None, as_json: bool) -> None:
    """Run PIPELINES now (resuming any that an earlier run left unfinished)."""
    from hakiri.core.errors import HakiriError
    from hakiri.runtime._malloc import tune_malloc
    from hakiri.runtime.executor import run_pipeline
    from hakiri.runtime.progress import TerminalProgress, format_rate

    tune_malloc()
    project = load_project_at(project_dir)
    names = list(project.manifest.pipelines) if run_all else list(pipelines)
    if not names:
        raise click.UsageError("name at least one pipeline, or pass --all")
    for name in names:
        project.pipeline(name)  # fail on a typo before running anything
    results = []
    failed: HakiriError | None = None
    for name in names:
        progress = TerminalProgress(name)
        try:
            summary = run_pipeline(project, name, on_page=None if as_json else progress)
        except HakiriError as exc:
            progress.close()
            if len(names) == 1 and not as_json:
                raise
            click.echo(f"error[{exc.code}]: {name}: {exc.one_line()}", err=True)
            results.append({"pipeline": name, "status": "failed", "error": exc.to_dict()})
            failed = failed or exc
            continue
        progress.close()
        results.append(summary.to_dict())
        if as_json:
            continue
        notes = []
        if summary.interrupted_runs:
            notes.append(f"closed {len(summary.interrupted_runs)} interrupted run(s)")
        if summary.removed_files:
            notes.append(f"removed {len(summary.removed_files)} uncommitted file(s)")
        if summary.superseded_files:
            notes.append(f"deleted {len(summary.superseded_files)} file(s) of the replaced table")
        if summary.resumed_from:
            notes.append(f"resumed run {summary.resumed_from}")
        extra = f" [{'; '.join(notes)}]" if notes else ""
        click.echo(
            f"{name}: {summary.status} — {_count(summary.rows, 'row')} in "
            f"{_count(summary.pages, 'page')} → "
            f"{summary.table} ({summary.elapsed:.2f} s, "
            f"{format_rate(summary.rows, summary.elapsed)}; run {summary.run_id}){extra}"
        )
    if as_json:
        echo_json(results if len(results) > 1 else results[0])
    if failed is not None:
        sys.exit(failed.exit_code)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"
