"""Globs on S3 keys: the same dialect as the file connector's paths."""

from __future__ import annotations

import pytest

from hakiri.connectors.s3.pattern import compile_glob, literal_prefix


@pytest.mark.parametrize(
    ("pattern", "key", "matches"),
    [
        ("exports/*.csv", "exports/a.csv", True),
        ("exports/*.csv", "exports/x/a.csv", False),
        ("exports/**/*.csv", "exports/a.csv", True),
        ("exports/**/*.csv", "exports/x/y/a.csv", True),
        ("exports/**", "exports/x/y/a.csv", True),
        ("exports/**/*.csv", "exports/a.json", False),
        ("data/2026-0?/*.jsonl", "data/2026-01/a.jsonl", True),
        ("data/2026-0?/*.jsonl", "data/2026-1/a.jsonl", False),
        ("data/[ab]*.csv", "data/b1.csv", True),
        ("data/[!ab]*.csv", "data/c1.csv", True),
        ("data/[!ab]*.csv", "data/a1.csv", False),
        ("a+b (1).csv", "a+b (1).csv", True),
        ("odd[.csv", "odd[.csv", True),
    ],
)
def test_glob(pattern: str, key: str, matches: bool) -> None:
    assert (compile_glob(pattern).fullmatch(key) is not None) is matches


def test_literal_prefix() -> None:
    assert literal_prefix("exports/2026/*.csv") == "exports/2026/"
    assert literal_prefix("exports/a.csv") == "exports/a.csv"
    assert literal_prefix("**/*.csv") == ""
