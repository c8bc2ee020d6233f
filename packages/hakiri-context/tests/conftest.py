from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hakiri.context.testing import StoreBuilder


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StoreBuilder]:
    """A real store on disk, at ``tmp_path / "store"``, to publish tables into."""
    builder = StoreBuilder(tmp_path / "store")
    yield builder
    builder.close()
