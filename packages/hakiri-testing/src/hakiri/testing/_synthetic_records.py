"""Pages of synthetic GitHub-issue-like records, rendered at memory speed.

A record is a pure function of its id. Everything but the id and the timestamps varies
with ``id % VARIANTS`` and comes from a pre-rendered JSON template, split at the places
where the id and the timestamps go. A page is one ``bytes.join`` of those static pieces
interleaved with the id and time texts, and every list is built by slicing: no Python code
runs per record. A loop over records (json.dumps, or even ``%`` formatting) would make the
server the bottleneck of the benchmarks it serves.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

__all__ = ["VARIANTS", "render_page"]

VARIANTS = 60
"""Records vary by ``id % VARIANTS``: any page of >= 60 records holds every shape."""

_BASE_DAY = date(2015, 1, 1)
_STEP = 10  # seconds between two consecutive ids' created_at: 100M ids span ~32 years
_UPDATED_LAG = 3 * 86400 + 7 * 3600 + 13 * 60 + 20  # constant, so updated_at grows with id
_CLOSED_LAG = 86400 + 2 * 3600 + 5 * 60 + 30
_API = "https://api.acme.dev/issues"
_HTML = "https://acme.dev/issues"

_VERBS = ("Fix", "Add", "Remove", "Document", "Speed up", "Refactor", "Test")
_THINGS = (
    "pagination",
    "the parquet writer",
    "retry backoff",
    "cursor handling",
    "schema evolution",
    "the query timeout",
    "incremental sync",
    "compaction",
    "secret lookup",
    "the progress bar",
    "memory use",
)
_SENTENCES = (
    "Steps to reproduce: run the pipeline against a large repository.",
    "Expected the run to finish; it stalled after the first few pages.",
    "It happens on every platform we tried, with the default settings.",
    "A workaround is a smaller page size, but then every sync is slower.",
    "We should add a regression test for this and document the limit.",
)
_LOGINS = ("ada", "grace", "linus", "margaret", "ken", "barbara", "guido", "dennis", "radia")
_USER_TYPES = ("User", "User", "User", "Bot")
_LABELS = (
    ("bug", "d73a4a"),
    ("enhancement", "a2eeef"),
    ("documentation", "0075ca"),
    ("good first issue", "7057ff"),
    ("performance", "fbca04"),
    ("help wanted", "008672"),
)
_LABEL_COUNTS = (1, 0, 2, 1, 3, 0)  # 0-3 labels, one on average
_ASSOCIATIONS = ("OWNER", "MEMBER", "CONTRIBUTOR", "NONE", "FIRST_TIME_CONTRIBUTOR")
_MILESTONES = (("v1.0", "closed"), ("v1.1", "open"), ("v2.0", "open"))
_REACTIONS = ("+1", "-1", "heart")

# Placeholders in a variant's JSON; each becomes a slot that a page fills with text.
_ID = "@ID@"
_LAGS = {"created_at": 0, "updated_at": _UPDATED_LAG, "closed_at": _CLOSED_LAG}
_SLOT = re.compile(rb"\0(\w+)\0")  # JSON text never holds a raw NUL: a safe marker


def _user(index: int) -> dict[str, Any]:
    login = _LOGINS[index % len(_LOGINS)]
    return {
        "login": login,
        "id": 1000 + index % len(_LOGINS),
        "type": _USER_TYPES[index % len(_USER_TYPES)],
        "site_admin": index % len(_LOGINS) == 0,
    }


def _variant(v: int) -> dict[str, Any]:
    """Record shape ``v``: every field but the id-dependent ones, as placeholders."""
    closed = v % 3 == 0
    picked = [(v + j) % len(_LABELS) for j in range(_LABEL_COUNTS[v % len(_LABEL_COUNTS)])]
    labels = [
        {"id": 5000 + k, "name": _LABELS[k][0], "color": _LABELS[k][1], "default": k < 2}
        for k in picked
    ]
    milestone = None
    if v % 2:
        title, state = _MILESTONES[v % len(_MILESTONES)]
        milestone = {"id": 700 + v % 3, "number": 1 + v % 3, "title": title, "state": state}
    reactions = {name: (v * (k + 3)) % (k + 4) for k, name in enumerate(_REACTIONS)}
    body = "\n\n".join(_SENTENCES[(v + k) % len(_SENTENCES)] for k in range(2))
    return {
        "url": f"{_API}/{_ID}",
        "html_url": f"{_HTML}/{_ID}",
        "id": _ID,
        "node_id": f"I_kwDOAcme{_ID}",
        "number": _ID,
        "title": f"{_VERBS[v % len(_VERBS)]} {_THINGS[v % len(_THINGS)]}",
        "user": _user(v),
        "labels": labels,
        "state": "closed" if closed else "open",
        "locked": v % 5 == 0,
        "assignees": [_user(v + 1)] if v % 2 else [],
        "milestone": milestone,
        "comments": (v * 7) % 13,
        "created_at": "@CREATED_AT@",
        "updated_at": "@UPDATED_AT@",
        "closed_at": "@CLOSED_AT@" if closed else None,
        "author_association": _ASSOCIATIONS[v % len(_ASSOCIATIONS)],
        "body": body,
        "reactions": {"total_count": sum(reactions.values()), **reactions},
    }


def _split(v: int) -> tuple[list[bytes], tuple[str, ...]]:
    """Shape ``v`` as static pieces and the names of the slots between them."""
    text = json.dumps(_variant(v), separators=(",", ":")).encode()
    text = text.replace(b'"@ID@"', b"@ID@").replace(b"@ID@", b"\0id\0")
    for name in _LAGS:
        text = text.replace(f'"@{name.upper()}@"'.encode(), f"\0{name}\0".encode())
    # An open issue's closed_at stays null, with an empty slot so every shape has the same.
    text = text.replace(b'"closed_at":null', b'"closed_at":null\0closed_at\0')
    parts = _SLOT.split(text)
    return parts[0::2], tuple(name.decode() for name in parts[1::2])


def _build() -> tuple[list[list[bytes]], list[bytes], tuple[str, ...]]:
    """Every shape's static pieces, the ring of pieces that follow slots, the slot names."""
    shapes, slot_names = zip(*(_split(v) for v in range(VARIANTS)), strict=True)
    if len(set(slot_names)) != 1:
        raise AssertionError("every record shape must have the same slots")
    # After the last slot of a record comes its end, a comma and the next record's start.
    ring: list[bytes] = []
    for v, pieces in enumerate(shapes):
        ring += pieces[1:-1]
        ring.append(pieces[-1] + b"," + shapes[(v + 1) % VARIANTS][0])
    # Long enough that any page of up to 1000 records starting at any shape is one slice.
    return list(shapes), ring * (1000 // VARIANTS + 2), slot_names[0]


# Closed issues are every third id, so their closed_at texts are one strided slice.
if VARIANTS % 3 or any(lag % _STEP for lag in _LAGS.values()):
    raise AssertionError("VARIANTS must be a multiple of 3, the lags of _STEP")
_SHAPES, _RING, _SLOTS = _build()
_PER_DAY = 86400 // _STEP
_THOUSANDS = [b"%03d" % k for k in range(1000)]
_CLOCKS = [b"%02d:%02d:%02d" % (s // 3600, s // 60 % 60, s % 60) for s in range(0, 86400, _STEP)]


# The texts below are built with join/split, which run in C, and cached: consecutive pages
# share them (a day of timestamps serves 8,640 ids, a block of ids 1,000).
@lru_cache(maxsize=16)
def _day_times(day: int) -> list[bytes]:
    """``"YYYY-MM-DDTHH:MM:SSZ"`` (quoted) of every instant of ``day``, _STEP apart."""
    date_text = b'"' + (_BASE_DAY + timedelta(days=day)).isoformat().encode() + b"T"
    return (date_text + (b'Z"\0' + date_text).join(_CLOCKS) + b'Z"').split(b"\0")


@lru_cache(maxsize=4)
def _id_block(block: int) -> list[bytes]:
    """The decimal texts of ids ``block * 1000 … block * 1000 + 999``."""
    if block == 0:
        return [str(k).encode() for k in range(1000)]
    prefix = str(block).encode()
    return (prefix + (b"\0" + prefix).join(_THOUSANDS)).split(b"\0")


def _texts(table: Callable[[int], list[bytes]], size: int, first: int, count: int) -> list[bytes]:
    """Entries ``first … first + count - 1`` of a sequence cut into cached blocks."""
    out: list[bytes] = []
    while count > 0:
        block, offset = divmod(first, size)
        taken = table(block)[offset : offset + count]
        out += taken
        first += len(taken)
        count -= len(taken)
    return out


def _slot_texts(first_id: int, count: int) -> dict[str, list[bytes]]:
    texts = {"id": _texts(_id_block, 1000, first_id, count)}
    for name, lag in _LAGS.items():
        texts[name] = _texts(_day_times, _PER_DAY, first_id - 1 + lag // _STEP, count)
    first_closed = -first_id % 3
    closed = [b""] * count
    closed[first_closed::3] = texts["closed_at"][first_closed::3]
    texts["closed_at"] = closed
    return texts


def render_page(first_id: int, count: int) -> bytes:
    """The JSON array of records ``first_id … first_id + count - 1`` (count <= 1000)."""
    if count <= 0:
        return b"[]"
    if count > 1000:
        raise ValueError("at most 1000 records per page")
    width = len(_SLOTS)
    start = first_id % VARIANTS
    last = (first_id + count - 1) % VARIANTS
    pieces: list[bytes] = [b""] * (1 + 2 * count * width)
    pieces[0] = b"[" + _SHAPES[start][0]
    pieces[2::2] = _RING[start * width : (start + count) * width]
    pieces[-1] = _SHAPES[last][-1] + b"]"
    texts = _slot_texts(first_id, count)
    for position, name in enumerate(_SLOTS):
        pieces[1 + 2 * position :: 2 * width] = texts[name]
    return b"".join(pieces)
