"""``hakiri init``: scaffold a project that runs out of the box."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from hakiri.core.errors import HakiriError
from hakiri.core.manifest import IDENTIFIER, MANIFEST_FILE

__all__ = ["scaffold_project"]

GITIGNORE = """# Hakiri's local context store (catalog + Parquet) and secrets
.hakiri/
.env
"""

ENV_EXAMPLE = """# Copy to .env and fill in. Referenced from hakiri.toml as secret://NAME.
# HTTPBIN_TOKEN=
"""


def scaffold_project(target: Path, *, force: bool = False) -> list[Path]:
    """Create ``target`` with a commented ``hakiri.toml``; return the files written."""
    manifest = target / MANIFEST_FILE
    if manifest.exists() and not force:
        raise HakiriError(
            f"{manifest} already exists", hint="pick another directory, or pass --force"
        )
    name = target.resolve().name.replace("-", "_").lower()
    if not IDENTIFIER.fullmatch(name):
        name = "project"
    template = files("hakiri.runtime").joinpath("templates/hakiri.toml").read_text("utf-8")
    target.mkdir(parents=True, exist_ok=True)
    (target / "pipelines").mkdir(exist_ok=True)
    written = {
        manifest: template.replace("{name}", name),
        target / ".gitignore": GITIGNORE,
        target / ".env.example": ENV_EXAMPLE,
    }
    for path, text in written.items():
        if path.name != MANIFEST_FILE and path.exists():
            continue
        path.write_text(text, encoding="utf-8")
    return list(written)
