"""The host's secret resolver: the process environment first, then the project's ``.env``."""

from __future__ import annotations

import os
from pathlib import Path

from hakiri.core.errors import SecretError

__all__ = ["EnvSecretResolver"]


class EnvSecretResolver:
    """Resolves ``secret://NAME`` from ``$NAME`` or from ``NAME=…`` in ``<project>/.env``.

    The environment wins so CI and daemons can override a developer's ``.env``.
    """

    def __init__(self, project_root: Path) -> None:
        self._dotenv_path = project_root / ".env"
        self._dotenv: dict[str, str | None] | None = None

    def _dotenv_values(self) -> dict[str, str | None]:
        if self._dotenv is None:
            if self._dotenv_path.is_file():
                from dotenv import dotenv_values

                self._dotenv = dict(dotenv_values(self._dotenv_path))
            else:
                self._dotenv = {}
        return self._dotenv

    def resolve(self, name: str) -> str:
        value = os.environ.get(name)
        if value is None:
            value = self._dotenv_values().get(name)
        if value is None or value == "":
            raise SecretError(
                f"secret {name!r} is not set",
                hint=f"export {name}=… or add {name}=… to {self._dotenv_path}",
                secret=name,
            )
        return value
