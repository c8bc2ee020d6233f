"""Run the real ``hakiri`` command as a subprocess, the way a person or a script would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["CliResult", "hakiri_executable", "run_hakiri", "spawn_hakiri"]


def hakiri_executable() -> str:
    """The ``hakiri`` console script of the interpreter running the tests."""
    return str(Path(sys.executable).with_name("hakiri"))


@dataclass(frozen=True, slots=True)
class CliResult:
    args: Sequence[str]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def check(self) -> CliResult:
        if self.returncode != 0:
            raise AssertionError(
                f"hakiri {' '.join(self.args)} exited {self.returncode}\n"
                f"stdout:\n{self.stdout}\nstderr:\n{self.stderr}"
            )
        return self


def _env(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAKIRI_")}
    env.update(extra or {})
    return env


def run_hakiri(
    *args: str,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> CliResult:
    """Run ``hakiri ARGS`` in ``cwd`` and capture what it printed (stdin closed)."""
    proc = subprocess.run(
        [hakiri_executable(), *args],
        cwd=cwd,
        env=_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return CliResult(args, proc.returncode, proc.stdout, proc.stderr)


def spawn_hakiri(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None
) -> subprocess.Popen[str]:
    """Start ``hakiri ARGS`` without waiting (for tests that kill it mid-run)."""
    return subprocess.Popen(
        [hakiri_executable(), *args],
        cwd=cwd,
        env=_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
