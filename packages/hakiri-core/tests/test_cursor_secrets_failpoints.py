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


def test_keyed_cursor_merges_per_key_and_forgets_tombstones() -> None:
    kind = CursorKind.KEYED
    assert kind.advance(None, {"a": "h1"}) == {"a": "h1"}
    current = {"a": "h1", "b": {"sha256": "h2", "stat": [1, 2, 3, 4]}}
    # Only the keys observed move; the observed version wins, whatever its order.
    assert kind.advance(current, {"b": "h0", "c": "h3"}) == {"a": "h1", "b": "h0", "c": "h3"}
    # A null version is a tombstone: the key goes (and a missing key stays missing).
    assert kind.advance(current, {"a": None, "zz": None}) == {"b": current["b"]}
    assert kind.advance(current, None) is current
    assert kind.advance(None, None) is None
    assert kind.advance(current, {}) == current
    assert current == {"a": "h1", "b": {"sha256": "h2", "stat": [1, 2, 3, 4]}}  # not mutated


def test_keyed_cursor_folds_pages_in_any_grouping() -> None:
    # Pages fold one at a time onto the committed value in a run, or first into partial
    # results (other machines) that are then folded on: disjoint versions give the same value.
    kind = CursorKind.KEYED
    start = {"gone": "h0", "kept": "h1"}
    pages: list[dict[str, str | None]] = [{"x": "h2"}, {"y": "h3"}, {"kept": "h4"}]
    one_by_one: dict[str, str | None] = start
    for observed in [*pages, {"gone": None}]:
        one_by_one = kind.advance(one_by_one, observed)
    partial = kind.advance(kind.advance(None, pages[0]), pages[1])
    grouped = kind.advance(kind.advance(kind.advance(start, pages[2]), partial), {"gone": None})
    assert one_by_one == grouped == {"kept": "h4", "x": "h2", "y": "h3"}
    assert kind.advance(one_by_one, one_by_one) == one_by_one  # idempotent


def test_keyed_cursor_refuses_a_non_object() -> None:
    with pytest.raises(TypeError, match="keyed cursor"):
        CursorKind.KEYED.advance({"a": "h"}, "token")
    with pytest.raises(TypeError, match="keyed cursor"):
        CursorKind.KEYED.advance("token", {"a": "h"})


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
