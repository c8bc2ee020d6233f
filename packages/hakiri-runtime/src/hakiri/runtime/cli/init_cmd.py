from __future__ import annotations

from pathlib import Path

import click

__all__ = ["init"]


@click.command()
@click.argument("name", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite an existing hakiri.toml.")
def init(name: Path, force: bool) -> None:
    """Create a project in directory NAME with a commented hakiri.toml."""
    from hakiri.runtime.init import scaffold_project

    written = scaffold_project(name, force=force)
    for path in written:
        click.echo(f"created {path}")
    click.echo(f"\nnext: cd {name} && hakiri run httpbin")
