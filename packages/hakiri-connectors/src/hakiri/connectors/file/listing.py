"""Which local files a path or glob names, in a deterministic order.

A file is known by its *key*: its path relative to the project directory (forward slashes)
when it lies inside it, else its absolute path. Keys are what pages and the cursor store,
so a project moved to another directory or machine still recognises its files.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from hakiri.core.errors import SourceError

__all__ = ["ListedFile", "has_glob", "list_files", "resolve_key", "stream_name"]

_MAGIC = re.compile(r"[*?[]")


@dataclass(frozen=True, slots=True)
class ListedFile:
    key: str
    path: Path
    """Absolute."""


def has_glob(path: str) -> bool:
    """Whether ``path`` holds glob characters (``*``, ``?``, ``[``)."""
    return _MAGIC.search(path) is not None


def _absolute(path: str, root: Path) -> Path:
    expanded = Path(os.path.expanduser(path))
    return Path(os.path.abspath(expanded if expanded.is_absolute() else root / expanded))


def _key(path: Path, root: Path) -> str:
    root = Path(os.path.abspath(root))
    if path.is_relative_to(root):
        return path.relative_to(root).as_posix()
    return path.as_posix()


def resolve_key(key: str, root: Path) -> Path:
    """The absolute path of the file known as ``key``."""
    return _absolute(key, root)


def list_files(path: str, root: Path) -> list[ListedFile]:
    """The regular files ``path`` names, sorted by key.

    A glob that matches nothing is an empty list; a path without glob characters must name
    an existing file (``SourceError`` otherwise).
    """
    target = _absolute(path, root)
    if not has_glob(path):
        if target.is_file():
            return [ListedFile(_key(target, root), target)]
        if target.is_dir():
            raise SourceError(
                f"{path} is a directory, not a file",
                hint=f"name its files with a glob, e.g. path = '{path.rstrip('/')}/*.csv' "
                f"or '{path.rstrip('/')}/**/*.parquet'",
                path=path,
            )
        raise SourceError(
            f"no such file: {target}",
            hint="check source.path (relative paths start at the project directory)",
            path=path,
        )
    found: list[ListedFile] = []
    for match in glob.iglob(str(target), recursive=True):
        candidate = Path(match)
        if candidate.is_file():
            found.append(ListedFile(_key(candidate, root), candidate))
    found.sort(key=lambda item: item.key)
    return found


def _identifier(text: str) -> str:
    name = re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_")
    if name and not re.match(r"[a-z_]", name):
        name = f"_{name}"
    return name[:63]


def stream_name(path: str, fallback: str = "files") -> str:
    """A table-like name for the files ``path`` names: the glob's stem, or the nearest
    directory name without glob characters (``data/orders_*.csv`` → ``orders``)."""
    parts = [p for p in PurePosixPath(path.replace("\\", "/")).parts if p not in ("/", ".", "..")]
    for index, part in enumerate(reversed(parts)):
        stem = part
        if index == 0:
            # Drop the extensions (``.csv.gz``) of the last component only.
            stem = part.split(".", 1)[0] if not part.startswith(".") else part
        name = _identifier(_MAGIC.sub("", stem))
        if name:
            return name
    return fallback
