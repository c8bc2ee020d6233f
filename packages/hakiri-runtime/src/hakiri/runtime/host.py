"""The local host: what a connector gets from the process that runs it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hakiri.core.ports import Catalog, Clock, SecretResolver

__all__ = ["LocalHost"]


@dataclass(frozen=True, slots=True)
class LocalHost:
    project_root: Path
    store_root: Path
    secrets: SecretResolver
    clock: Clock
    catalog: Catalog
