"""Failpoints: named places where a test can make the process die on purpose.

Crash safety is proven by killing real processes at exact points of the run protocol
(while pulling, between staging and commit, inside the commit transaction). A test sets
``HAKIRI_FAILPOINTS="inside_commit:2"``: the second time the process passes
``failpoint("inside_commit")`` it sends itself SIGKILL, so no cleanup code runs — exactly like
a power cut or the OOM killer. Without the variable a failpoint is one dict lookup.
"""

from __future__ import annotations

import os
import signal

__all__ = ["ENV_VAR", "failpoint"]

ENV_VAR = "HAKIRI_FAILPOINTS"

_armed: dict[str, int] | None = None
_hits: dict[str, int] = {}


def _load() -> dict[str, int]:
    spec = os.environ.get(ENV_VAR, "")
    armed: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, nth = item.partition(":")
        armed[name] = int(nth) if nth else 1
    return armed


def failpoint(name: str) -> None:
    """Die with SIGKILL if ``name`` is armed and this is its n-th hit."""
    global _armed
    if _armed is None:
        _armed = _load()
    if name not in _armed:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] == _armed[name]:
        os.kill(os.getpid(), signal.SIGKILL)
