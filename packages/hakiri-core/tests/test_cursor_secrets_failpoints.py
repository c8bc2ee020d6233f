from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from hakiri.core.cursor import CursorKind
from hakiri.core.errors import HakiriError, SecretError
from hakiri.core.secrets import find_secret_refs, substitute_secrets


def test_monotonic_cursor_only_moves_forward() -> None:
    kind = CursorKind.MONOTONIC
    assert kind.advance(None, "2024-01-02") == "2024-01-02"
    assert kind.advance("2024-01-02", "2024-01-01") == "2024-01-02"
    assert kind.advance(5, 7) == 7
    assert kind.advance(7, None) == 7
    assert kind.advance(7, "x") == "x"  # unorderable: compared as text, still deterministic


def test_token_cursors_take_the_latest() -> None:
    assert CursorKind.OPAQUE_TOKEN.advance("b", "a") == "a"
    assert CursorKind.SNAPSHOT_ID.advance("v2", "v1") == "v1"


def test_secret_refs_found_anywhere_and_substituted() -> None:
    config = {"headers": {"Authorization": "Bearer secret://TOKEN"}, "x": ["secret://B", 1]}
    assert find_secret_refs(config) == ["TOKEN", "B"]
    values = {"TOKEN": "t0k"}
    assert substitute_secrets("Bearer secret://TOKEN", values.__getitem__) == "Bearer t0k"


def test_substitute_rejects_non_string() -> None:
    with pytest.raises(SecretError):
        substitute_secrets("secret://X", lambda name: 3)


def test_error_one_line_joins_message_and_hint() -> None:
    error = HakiriError("cannot do it\n  really", hint="try  this")
    assert error.one_line() == "cannot do it really — try this"
    assert error.to_dict() == {
        "code": "hakiri_error",
        "message": "cannot do it\n  really",
        "hint": "try  this",
    }


def test_failpoint_kills_the_process_on_its_nth_hit() -> None:
    code = (
        "from hakiri.core.failpoints import failpoint\n"
        "for i in range(5):\n"
        "    print(i, flush=True)\n"
        "    failpoint('here')\n"
    )
    env = {**os.environ, "HAKIRI_FAILPOINTS": "other:1,here:3"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL
    assert proc.stdout.split() == ["0", "1", "2"]
