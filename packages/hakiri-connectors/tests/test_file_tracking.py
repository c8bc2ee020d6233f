"""Which pages an incremental sweep over files plans, and what each tells the keyed cursor."""

from __future__ import annotations

import json
import operator

import pytest

from hakiri.connectors.file.tracking import (
    INDEX_PAGE_BYTES,
    INDEX_PAGE_KEYS,
    Tracked,
    index_entries,
    known_versions,
    plan_pages,
)
from hakiri.core.cursor import CursorKind, JsonValue
from hakiri.core.errors import SourceError
from hakiri.core.records import Page


def _tracked(key: str, version: JsonValue) -> Tracked:
    return Tracked(key, version, Page(f"file:{key}", {"path": key, "version": version}))


def _same_hash(old: JsonValue, new: JsonValue) -> bool:
    return bool(old["h"] == new["h"])


def _fold(previous: JsonValue, pages: list[Page]) -> JsonValue:
    """What the executor commits at the end of the sweep (a file page reports its version)."""
    value = previous
    for page in pages:
        entries = index_entries(page)
        observed = entries if entries is not None else {page.params["path"]: page.params["version"]}
        value = CursorKind.KEYED.advance(value, observed)
    return value


def test_reads_new_and_changed_moves_the_rest_on_index_pages() -> None:
    previous = {
        "same": {"h": "1"},
        "changed": {"h": "2"},
        "restat": {"h": "3"},
        "gone": {"h": "4"},
    }
    tracked = [
        _tracked("changed", {"h": "2b"}),
        _tracked("new", {"h": "5"}),
        _tracked("restat", {"h": "3", "stat": [1, 2, 3, 4]}),  # same content, new record
        _tracked("same", {"h": "1"}),
    ]
    pages = plan_pages(tracked, previous, same_content=_same_hash)
    assert [p.key for p in pages] == ["file:changed", "file:new", "index:0"]
    assert index_entries(pages[-1]) == {"gone": None, "restat": {"h": "3", "stat": [1, 2, 3, 4]}}
    assert index_entries(pages[0]) is None
    assert _fold(previous, pages) == {t.key: t.version for t in tracked}


def test_nothing_changed_plans_nothing() -> None:
    tracked = [_tracked("a", "e1"), _tracked("b", "e2")]
    assert plan_pages(tracked, {"a": "e1", "b": "e2"}, same_content=operator.eq) == []
    assert plan_pages([], None, same_content=operator.eq) == []
    assert plan_pages([], {}, same_content=operator.eq) == []
    first = plan_pages(tracked, None, same_content=operator.eq)
    assert [p.key for p in first] == ["file:a", "file:b"]


@pytest.mark.parametrize("key_length", [8, 60, 400])
def test_index_pages_are_bounded_in_keys_and_bytes(key_length: int) -> None:
    previous = {f"{i:0{key_length}d}": f"etag-{i}" for i in range(1000)}
    pages = plan_pages([], previous, same_content=operator.eq)
    assert _fold(previous, pages) == {}
    for page in pages:
        entries = index_entries(page)
        assert entries is not None and 0 < len(entries) <= INDEX_PAGE_KEYS
        assert len(json.dumps(page.to_dict())) < INDEX_PAGE_BYTES + 256
    assert sum(len(index_entries(p) or {}) for p in pages) == 1000
    assert len({p.key for p in pages}) == len(pages)


def test_an_entry_larger_than_a_page_gets_a_page_alone() -> None:
    huge = "k" * (2 * INDEX_PAGE_BYTES)
    pages = plan_pages([], {"a": "1", huge: "2", "z": "3"}, same_content=operator.eq)
    assert [sorted(index_entries(p) or {}) for p in pages] == [["a"], [huge], ["z"]]


def test_known_versions_refuses_what_is_not_a_keyed_index() -> None:
    def valid(v: JsonValue) -> bool:
        return isinstance(v, str)

    assert known_versions(None, connector="s3", valid=valid) is None
    assert known_versions({"a": "e"}, connector="s3", valid=valid) == {"a": "e"}
    for bad in ["token", ["a"], {"files": {"a": "e"}}, {"a": None}]:
        with pytest.raises(SourceError, match="not a s3 file index"):
            known_versions(bad, connector="s3", valid=valid)


def test_a_page_that_claims_to_be_an_index_page_must_carry_entries() -> None:
    with pytest.raises(SourceError, match="not an index page"):
        index_entries(Page("index:0", {"index": "everything"}))
