"""One wasmtime Engine per process, its epoch ticker, and the on-disk cache of compiled code.

Compiling a component (~18 MB for a Python guest) takes many seconds; loading the compiled
code back takes a fraction of one. So a compiled component is kept twice: in memory for the
life of the process (by the SHA-256 of the ``.wasm``), and on disk as
``$HAKIRI_WASM_CACHE/<sha256>-<wasmtime version>.cwasm`` (default ``~/.cache/hakiri/wasm``),
written atomically, so the next process only deserializes it. An entry wasmtime refuses
(corrupt, or from another build) is compiled again and replaced.

Deserializing trusts the file: the cache directory is created private (0700) and holds only
what this host wrote.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import threading
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

from hakiri.connectors.wasm._wasmtime import import_component_api, import_wasmtime
from hakiri.connectors.wasm.errors import WasmInvalid
from hakiri.core.errors import ConfigError

if TYPE_CHECKING:
    from wasmtime import Engine
    from wasmtime.component import Component

__all__ = [
    "HOST_INTERFACE",
    "SOURCE_EXPORTS",
    "SOURCE_INTERFACE",
    "TICK_SECONDS",
    "CompileStats",
    "cache_dir",
    "compile_stats",
    "forget_loaded",
    "load_component",
    "shared_engine",
]

SOURCE_INTERFACE = "hakiri:connector/source@0.1.0"
"""The interface a connector exports."""
SOURCE_EXPORTS = ("spec", "discover", "plan", "read")
HOST_INTERFACE = "hakiri:connector/host@0.1.0"
"""The interface the host gives a connector."""
TICK_SECONDS = 0.01
"""How often the epoch advances: the resolution of a call's wall-clock deadline."""


@dataclass(slots=True)
class CompileStats:
    """What ``load_component`` did in this process (tests and benchmarks read it)."""

    compiled: int = 0
    """Components compiled from their ``.wasm``."""
    deserialized: int = 0
    """Components loaded from the on-disk cache."""
    reused: int = 0
    """Loads answered from memory."""
    corrupt: int = 0
    """Cache entries wasmtime refused, compiled again."""


_lock = threading.Lock()
_engine: Engine | None = None
_ticker_pid: int | None = None
_loaded: dict[str, Component] = {}
_loading: dict[str, threading.Lock] = {}
_stats = CompileStats()


def compile_stats() -> CompileStats:
    """The counters of this process's loads (a live object)."""
    return _stats


def shared_engine() -> Engine:
    """The process's Engine (fuel and epoch interruption on), its ticker thread running."""
    global _engine, _ticker_pid
    with _lock:
        if _engine is None:
            wasmtime = import_wasmtime()
            config = wasmtime.Config()
            config.consume_fuel = True
            config.epoch_interruption = True
            _engine = wasmtime.Engine(config)
            atexit.register(_release)
        # A forked child has the engine but not the thread: start one there too.
        if _ticker_pid != os.getpid():
            thread = threading.Thread(
                target=_tick, args=(_engine,), name="hakiri-wasm-epoch", daemon=True
            )
            thread.start()
            _ticker_pid = os.getpid()
        return _engine


def _release() -> None:
    """Free the cached components while wasmtime's library is still loaded: left to the
    interpreter's final garbage collection, their finalizers run after it is unloaded and
    print ``Exception ignored`` noise on exit."""
    with _lock:
        for component in _loaded.values():
            component.close()
        _loaded.clear()


def _tick(engine: Engine) -> None:
    # One thread for every store of the process: a store's deadline is counted in ticks.
    while True:
        time.sleep(TICK_SECONDS)
        engine.increment_epoch()


def cache_dir() -> Path:
    """Where compiled components are kept: ``$HAKIRI_WASM_CACHE`` or ``~/.cache/hakiri/wasm``."""
    configured = os.environ.get("HAKIRI_WASM_CACHE")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "hakiri" / "wasm"


def _cache_file(digest: str) -> Path:
    return cache_dir() / f"{digest}-{version('wasmtime')}.cwasm"


def forget_loaded() -> None:
    """Drop the in-memory components, so the next load reads the disk cache (tests)."""
    with _lock:
        _loaded.clear()


def load_component(path: Path) -> Component:
    """The compiled component of ``path``: from memory, the disk cache, or compiled (and
    cached). ``WasmInvalid`` when wasmtime cannot compile it."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"WebAssembly connector {path} does not exist",
            hint="the path after 'wasm:' is relative to the project root",
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read WebAssembly connector {path}: {exc}") from None
    digest = hashlib.sha256(data).hexdigest()
    engine = shared_engine()
    with _lock:
        loaded = _loaded.get(digest)
        if loaded is not None:
            _stats.reused += 1
            return loaded
        lock = _loading.setdefault(digest, threading.Lock())
    with lock:  # two sources of one component, created at once, compile it once
        with _lock:
            loaded = _loaded.get(digest)
        if loaded is not None:
            _stats.reused += 1
            return loaded
        component = _from_cache(engine, digest)
        if component is None:
            component = _compile(engine, path, data)
            _store(component, digest)
        with _lock:
            _loaded[digest] = component
        return component


def _from_cache(engine: Engine, digest: str) -> Component | None:
    api = import_component_api()
    wasmtime = import_wasmtime()
    cached = _cache_file(digest)
    if not cached.is_file():
        return None
    try:
        component: Component = api.Component.deserialize_file(engine, str(cached))
    except wasmtime.WasmtimeError:
        _stats.corrupt += 1
        cached.unlink(missing_ok=True)
        return None
    _stats.deserialized += 1
    return component


def _compile(engine: Engine, path: Path, data: bytes) -> Component:
    api = import_component_api()
    wasmtime = import_wasmtime()
    try:
        component: Component = api.Component(engine, data)
    except wasmtime.WasmtimeError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid"
        raise WasmInvalid(
            f"{path} is not a valid WebAssembly component: {reason}",
            hint="build the connector as a component of the hakiri:connector world "
            "(see docs/connectors/wasm.md)",
            path=str(path),
        ) from None
    _stats.compiled += 1
    return component


def _store(component: Component, digest: str) -> None:
    target = _cache_file(digest)
    staged = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        staged.write_bytes(component.serialize())
        # Atomic: a reader sees the old entry, no entry, or the whole new one.
        staged.replace(target)
    except OSError:
        # A read-only or full cache costs speed, not correctness: the next load compiles.
        staged.unlink(missing_ok=True)
