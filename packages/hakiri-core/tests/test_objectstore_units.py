"""The object store's small pieces: keys, ETags, how bodies become parts, the s3 extra."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from hakiri.core.errors import ConfigError, InvalidObjectKey
from hakiri.core.objectstore import S3ObjectStore, check_key, check_prefix, plain_etag
from hakiri.core.objectstore._body import chunks_of, parts_of
from hakiri.core.objectstore.testing import INVALID_KEYS, ODD_KEYS


@pytest.mark.parametrize("key", INVALID_KEYS, ids=repr)
def test_invalid_keys(key: str) -> None:
    with pytest.raises(InvalidObjectKey) as caught:
        check_key(key)
    assert caught.value.hint and "\n" not in caught.value.one_line()


@pytest.mark.parametrize("key", [*ODD_KEYS, "a", "a/b/c.parquet", "x" * 255, "é" * 127])
def test_valid_keys(key: str) -> None:
    assert check_key(key) == key


def test_prefixes() -> None:
    for prefix in ("", "a", "a/", "a/b", "logs/2026-0", "a/.h", "a/..x", "..x"):
        assert check_prefix(prefix) == prefix
    for prefix in ("/a", "a//b", "../a", "a/../", "a/..", "a/.", "..", "a\\b", "a\x00"):
        with pytest.raises(InvalidObjectKey):
            check_prefix(prefix)


def test_etags_compare_without_quotes() -> None:
    assert plain_etag('"abc"') == plain_etag("abc") == plain_etag('W/"abc"') == "abc"
    assert plain_etag('"abc-3"') == "abc-3"


def test_bodies_become_parts_of_exactly_the_part_size() -> None:
    chunks = [b"a" * 3, b"b" * 7, b"", b"c" * 12, b"d"]
    parts = list(parts_of(chunks_of(iter(chunks)), 5))
    assert [len(part) for part in parts] == [5, 5, 5, 5, 3]
    assert b"".join(parts) == b"".join(chunks)
    assert list(parts_of(chunks_of(b""), 5)) == []
    assert list(parts_of(chunks_of(b"x" * 10), 5)) == [b"x" * 5] * 2


def test_bad_s3_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="minimum part"):
        S3ObjectStore("bucket", part_size=1 << 20)
    with pytest.raises(ConfigError, match="1..1000"):
        S3ObjectStore("bucket", list_page_size=5000)
    with pytest.raises(InvalidObjectKey):
        S3ObjectStore("bucket", prefix="/absolute")


_WITHOUT_S3_EXTRA = textwrap.dedent(
    """
    import json, sys

    class NoS3Extra:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("aiobotocore", "anyio", "botocore"):
                raise ModuleNotFoundError(f"No module named {name!r}")
            return None

    sys.meta_path.insert(0, NoS3Extra())
    from hakiri.core.errors import MissingDependency
    from hakiri.core.objectstore import S3ObjectStore

    loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("aiobotocore", "anyio"))
    store = S3ObjectStore("bucket", endpoint_url="http://127.0.0.1:9")
    try:
        store.head("key")
        line = None
    except MissingDependency as exc:
        line = f"error[{exc.code}]: {exc.one_line()}"
    print(json.dumps({"loaded": loaded, "line": line}))
    """
)


def test_the_s3_store_names_its_extra_when_it_is_missing() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _WITHOUT_S3_EXTRA],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found = json.loads(proc.stdout)
    assert found["loaded"] == []  # importing the package loads neither
    assert found["line"].startswith("error[missing_dependency]: ")
    assert "pip install 'hakiri-core[s3]'" in found["line"]
