from __future__ import annotations

import json
from pathlib import Path

import click

__all__ = ["schema"]


@click.group()
def schema() -> None:
    """Schemas of Hakiri's own files."""


@schema.command()
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file."
)
def export(output: Path | None) -> None:
    """Print the JSON Schema of hakiri.toml (with each installed connector's options)."""
    from hakiri.core.manifest import manifest_json_schema
    from hakiri.core.plugins import connector_factories

    document = manifest_json_schema()
    connectors = {}
    for name, factory in connector_factories().items():
        connectors[name] = {
            "kind": factory.kind,
            "description": factory.description,
            "options": factory.config_model.model_json_schema(),
        }
    document["x-hakiri-connectors"] = connectors
    text = json.dumps(document, indent=2, sort_keys=True)
    if output is None:
        click.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")
        click.echo(f"wrote {output}")
