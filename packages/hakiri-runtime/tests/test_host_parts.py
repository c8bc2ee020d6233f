from __future__ import annotations

import os
from pathlib import Path

import pytest

from hakiri.core.errors import PipelineBusy, SecretError
from hakiri.core.lock import PipelineLock
from hakiri.core.manifest import load_project
from hakiri.core.records import Page
from hakiri.core.secrets import EnvSecretResolver
from hakiri.runtime.cursor_state import CursorState
from hakiri.runtime.init import scaffold_project


def test_cursor_state_round_trip() -> None:
    state = CursorState(
        position="2024", frontier=(Page("p2", {"url": "u"}),), sweep="2025", run_id="r"
    )
    again = CursorState.from_value(state.to_value())
    assert again == state and again.resuming
    assert CursorState.from_value(None) == CursorState()


def test_secrets_from_env_then_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("A_TOKEN=from-file\nB_TOKEN=file-b\n")
    monkeypatch.setenv("B_TOKEN", "from-env")
    resolver = EnvSecretResolver(tmp_path)
    assert resolver.resolve("A_TOKEN") == "from-file"
    assert resolver.resolve("B_TOKEN") == "from-env"
    monkeypatch.delenv("C_TOKEN", raising=False)
    with pytest.raises(SecretError, match="'C_TOKEN' is not set") as caught:
        resolver.resolve("C_TOKEN")
    assert str(tmp_path / ".env") in (caught.value.hint or "")


def test_pipeline_lock_is_exclusive_and_released(tmp_path: Path) -> None:
    with PipelineLock(tmp_path, "p"):
        with pytest.raises(PipelineBusy, match=f"pid {os.getpid()}"):
            PipelineLock(tmp_path, "p").acquire()
        PipelineLock(tmp_path, "other").acquire().release()
    PipelineLock(tmp_path, "p").acquire().release()


def test_scaffolded_project_is_valid(tmp_path: Path) -> None:
    written = scaffold_project(tmp_path / "my-demo")
    assert {p.name for p in written} == {"hakiri.toml", ".gitignore", ".env.example"}
    project = load_project(tmp_path / "my-demo")
    assert project.name == "my_demo"
    assert set(project.manifest.pipelines) == {"httpbin", "issues", "issues_snapshot"}
    assert project.pipeline("httpbin").table == "httpbin_anything"
    with pytest.raises(Exception, match="already exists"):
        scaffold_project(tmp_path / "my-demo")
    scaffold_project(tmp_path / "my-demo", force=True)
