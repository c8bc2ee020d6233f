"""The root command group: built-in commands plus those other members register."""

from __future__ import annotations

import sys
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any

import click

__all__ = ["cli", "main"]

# name -> "module:attribute"; imported only when the command runs (or its help is shown).
BUILTIN_COMMANDS = {
    "init": "hakiri.runtime.cli.init_cmd:init",
    "run": "hakiri.runtime.cli.run_cmd:run",
    "plan": "hakiri.runtime.cli.plan_cmd:plan",
    "pipeline": "hakiri.runtime.cli.pipeline_cmd:pipeline",
    "schema": "hakiri.runtime.cli.schema_cmd:schema",
    "source": "hakiri.runtime.cli.source_cmd:source",
}
PLUGIN_GROUP = "hakiri.cli"


def _load(target: str) -> click.Command:
    module, _, attribute = target.partition(":")
    command = getattr(import_module(module), attribute)
    if not isinstance(command, click.Command):
        raise TypeError(f"{target} is not a click command")
    return command


def _unavailable(name: str, target: str, exc: Exception) -> click.Command:
    reason = f"{type(exc).__name__}: {exc}"

    def fail() -> None:
        from hakiri.core.errors import MissingDependency

        raise MissingDependency(
            f"command {name!r} cannot load ({target}): {reason}",
            hint="reinstall the package that provides it",
        )

    return click.Command(name, callback=fail, help=f"(unavailable: {reason})")


class HakiriGroup(click.Group):
    """Finds commands lazily and turns Hakiri errors into one line and an exit code."""

    def _targets(self) -> dict[str, str]:
        targets = dict(BUILTIN_COMMANDS)
        for entry in entry_points(group=PLUGIN_GROUP):
            targets.setdefault(entry.name, entry.value)
        return targets

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self._targets())

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self._targets().get(cmd_name)
        if target is None:
            return None
        try:
            return _load(target)
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not break `hakiri`
            return _unavailable(cmd_name, target, exc)

    def invoke(self, ctx: click.Context) -> Any:
        from hakiri.core.errors import HakiriError

        try:
            return super().invoke(ctx)
        except HakiriError as exc:
            if ctx.params.get("debug"):
                raise
            click.echo(f"error[{exc.code}]: {exc.one_line()}", err=True)
            sys.exit(exc.exit_code)


@click.group(cls=HakiriGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(package_name="hakiri-runtime", prog_name="hakiri")
def cli(debug: bool) -> None:
    """Hakiri: pull data from APIs into a context store you can query with SQL.

    \b
    Start here:
      hakiri init demo && cd demo
      hakiri run httpbin
      hakiri query "select count(*) from httpbin_anything"
    """


def main() -> None:
    cli(prog_name="hakiri")
