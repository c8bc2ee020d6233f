"""The pipeline lock carries a failed run's last words to the next holder, in place."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hakiri.core.errors import PipelineBusy, StoreUnwritable
from hakiri.core.lock import PipelineLock


def test_a_note_reaches_the_next_holder_once(tmp_path: Path) -> None:
    with PipelineLock(tmp_path, "p") as first:
        assert first.last_words is None
        size = first.path.stat().st_size
        assert first.leave_note({"run_id": "r1", "code": "store_full", "message": "no space"})
        # Written in place: the record was allocated when the lock was taken.
        assert first.path.stat().st_size == size == 4096
    with PipelineLock(tmp_path, "p") as second:
        assert second.last_words == {"run_id": "r1", "code": "store_full", "message": "no space"}
        second.clear_note()
    with PipelineLock(tmp_path, "p") as third:
        assert third.last_words is None


def test_a_busy_lock_still_names_its_holder(tmp_path: Path) -> None:
    with PipelineLock(tmp_path, "p"):
        with pytest.raises(PipelineBusy, match=rf"\(pid {os.getpid()}\)"):
            PipelineLock(tmp_path, "p").acquire()


def test_an_unwritable_store_is_one_typed_error(tmp_path: Path) -> None:
    (tmp_path / "locks").write_text("not a directory")  # mkdir of locks/ fails
    with pytest.raises(Exception) as info:
        PipelineLock(tmp_path, "p").acquire()
    assert info.value.__class__.__name__ in {"StoreError", StoreUnwritable.__name__}
    assert "taking the lock of pipeline 'p'" in str(info.value)
