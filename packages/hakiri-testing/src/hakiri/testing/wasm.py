"""Build WebAssembly connector components from Python guest sources, for tests and benchmarks.

A guest is a directory holding ``app.py`` (a class ``Source`` implementing the
``hakiri:connector`` world's ``source`` interface) and any helper modules, plus the
capability manifest ``connector.toml``. ``build_component`` compiles it with componentize-py
against the WIT that ships in ``hakiri.connectors.wasm`` and returns the ``.wasm`` with its
manifest copied beside it (``<name>.wasm`` + ``<name>.toml``).

A build takes ~20 s, so results are cached by the content of the guest, the WIT and the
componentize-py version, under ``$HAKIRI_TEST_WASM_CACHE`` (default
``~/.cache/hakiri/test-components``); a test copies the cached file into its tmp directory.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

__all__ = ["WIT_DIR", "build_component", "component_cache_dir"]

WIT_DIR = Path(__file__).resolve().parents[4] / "hakiri-connectors/src/hakiri/connectors/wasm/wit"
"""The WIT of the ``hakiri:connector`` world (the copy hakiri-connectors ships)."""

_WORLD = "connector"
MANIFEST = "connector.toml"


def component_cache_dir() -> Path:
    configured = os.environ.get("HAKIRI_TEST_WASM_CACHE")
    if configured:
        return Path(configured)
    return Path.home() / ".cache" / "hakiri" / "test-components"


def _wit_dir() -> Path:
    try:
        from hakiri.connectors.wasm import WIT_DIR as packaged
    except ImportError:  # hakiri-connectors not installed: the source tree's copy
        return WIT_DIR
    return Path(packaged)


def _fingerprint(guest: Path, wit: Path) -> str:
    digest = hashlib.sha256(version("componentize-py").encode())
    for root in (guest, wit):
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            if "__pycache__" in path.parts or path.name == MANIFEST:
                continue
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:24]


def build_component(guest: Path, out_dir: Path, *, name: str | None = None) -> Path:
    """Compile the guest at ``guest`` into ``out_dir/<name>.wasm`` (+ its manifest as
    ``<name>.toml``) and return the ``.wasm`` path. ``name`` defaults to the directory's."""
    guest = guest.resolve()  # componentize-py runs in a temporary directory
    name = name or guest.name
    wit = _wit_dir()
    cache = component_cache_dir()
    cached = cache / f"{guest.name}-{_fingerprint(guest, wit)}.wasm"
    if not cached.exists():
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="hakiri-wasm-build-") as tmp:
            target = Path(tmp) / "component.wasm"
            proc = subprocess.run(
                [
                    str(Path(sys.executable).with_name("componentize-py")),
                    "-d",
                    str(wit),
                    "-w",
                    _WORLD,
                    "componentize",
                    "-p",
                    str(guest),
                    "app",
                    "-o",
                    str(target),
                ],
                capture_output=True,
                text=True,
                timeout=600,
                cwd=tmp,
            )
            if proc.returncode != 0:
                raise AssertionError(
                    f"componentize-py failed for {guest}:\n{proc.stdout}\n{proc.stderr}"
                )
            # Atomic: a concurrent or interrupted build never leaves a half-written file.
            staged = cached.with_suffix(".tmp")
            shutil.copyfile(target, staged)
            staged.replace(cached)
    out_dir.mkdir(parents=True, exist_ok=True)
    wasm = out_dir / f"{name}.wasm"
    shutil.copyfile(cached, wasm)
    manifest = guest / MANIFEST
    if manifest.exists():
        shutil.copyfile(manifest, out_dir / f"{name}.toml")
    return wasm
