"""`hakiri --help` must start light: no data libraries imported to print help."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("pyarrow", "duckdb", "sqlalchemy", "polars", "pydantic", "httpx")

CODE = """
import sys
from hakiri.runtime.cli import cli
try:
    cli(["--help"], prog_name="hakiri")
except SystemExit:
    pass
print("LOADED", *sorted(m for m in {heavy!r} if m in sys.modules))
"""


def test_help_imports_no_data_library() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", CODE.format(heavy=HEAVY)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "run" in proc.stdout and "query" in proc.stdout
    loaded = proc.stdout.strip().splitlines()[-1].split()[1:]
    assert loaded == []
