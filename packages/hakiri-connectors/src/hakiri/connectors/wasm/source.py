"""``WasmSource``: a ``Source`` whose every call runs a guest export in a fresh sandbox.

Each call (``discover``, ``plan``, ``read``) gets its own wasmtime Store and instance: fuel,
a linear-memory cap and a wall-clock deadline (epoch interruption) apply per call, nothing a
call leaves behind leaks into the next, and calls on different threads (the executor reads
pages on a prefetch thread) share nothing but the compiled component and the HTTP pool.
Instantiating a pre-initialised Python guest takes milliseconds.

The host imports (``fetch``, ``log``, ``now-ms``) are linked once per process; they find
the call they serve through a thread-local, so no closure keeps a source alive. A limit
breach inside an import (a log flood, a fetch outside the grant, a fetch running past the
deadline) is recorded on the call and turned into its typed error once the guest returns
or traps; a trap is classified from wasmtime's message (fuel, interrupt) and the guest's
captured stderr (a Python ``MemoryError`` when memory could not grow).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import tempfile
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from hakiri.connectors.wasm._wasmtime import import_component_api, import_wasmtime
from hakiri.connectors.wasm.engine import (
    HOST_INTERFACE,
    SOURCE_EXPORTS,
    SOURCE_INTERFACE,
    TICK_SECONDS,
    shared_engine,
)
from hakiri.connectors.wasm.errors import (
    WasmFuelExhausted,
    WasmInvalid,
    WasmLogLimit,
    WasmMemoryLimit,
    WasmTimeout,
    WasmTrap,
)
from hakiri.connectors.wasm.fetch import (
    FetchDeadline,
    FetchFailed,
    FetchRequest,
    HostFetcher,
)
from hakiri.connectors.wasm.manifest import ConnectorManifest, HostPattern, Limits
from hakiri.core.batch import normalize_table, records_to_table
from hakiri.core.closing import Closing
from hakiri.core.cursor import CursorKind, JsonValue
from hakiri.core.errors import ConfigError, HakiriError, SourceError
from hakiri.core.ports import Host
from hakiri.core.records import Page, PageData, Plan, StreamInfo

if TYPE_CHECKING:
    from wasmtime import Store
    from wasmtime.component import Component, ExportIndex, Linker

    from hakiri.connectors._http.decode import ArrowDecoder

__all__ = ["LoadedConnector", "WasmSource", "check_exports"]

log = logging.getLogger("hakiri.wasm")

_OUTPUT_TAIL = 2_000
"""Bytes of the guest's stdout/stderr kept for an error message."""
_NOISE = (
    "thread '<unnamed>'",
    "note: run with `RUST_BACKTRACE",
    "Python function threw an unexpected exception",
    "panicked at",
)
"""Lines the Python guest runtime adds after a Python traceback: no news to a reader."""
_MEMORY_SIGNS = ("MemoryError", "memory allocation of", "out of memory", "memory minimum size")
_LOG_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}


@dataclass(frozen=True, slots=True)
class LoadedConnector:
    """A component checked against its manifest and grant, ready to run."""

    path: Path
    manifest: ConnectorManifest
    limits: Limits
    component: Component
    exports: dict[str, ExportIndex]
    """The ``source`` functions, by name."""
    hosts: tuple[HostPattern, ...]
    """What ``fetch`` may reach: the declared hosts (each covered by the grant)."""
    secrets: frozenset[str]
    """What ``fetch`` substitutes: the declared secrets (each granted)."""
    label: str = ""
    """How the pipeline names it: ``wasm:<reference>``."""

    @property
    def name(self) -> str:
        return self.manifest.connector.name


# -- the host imports ----------------------------------------------------------------------


@dataclass(slots=True)
class _Call:
    """One export call in progress on this thread."""

    source: WasmSource
    export: str
    deadline: float
    """``time.monotonic()`` after which the call is out of time."""
    violation: HakiriError | None = None
    """The first breach an import saw: the call fails with it, whatever the guest does."""
    offline: bool = False
    """Checking the options at load: ``fetch`` answers ``err`` without a request."""

    def breach(self, error: HakiriError) -> None:
        if self.violation is None:
            self.violation = error


_current = threading.local()
_linker_lock = threading.Lock()
_linker: Linker | None = None


def _call() -> _Call:
    call: _Call | None = getattr(_current, "call", None)
    if call is None:  # an import called outside an export call: cannot happen, but trap
        raise import_wasmtime().WasmtimeError("hakiri: no call in progress")
    return call


def _trap(call: _Call, error: HakiriError) -> Exception:
    call.breach(error)
    # A WasmtimeError raised from an import traps the guest without going through
    # wasmtime-py's process-global "last exception" slot, which threads would share.
    error_type: type[Exception] = import_wasmtime().WasmtimeError
    return error_type(f"hakiri: {error.code}")


def _host_fetch(_store: Any, request: Any) -> Any:
    call = _call()
    try:
        return call.source._fetch(call, request)
    except HakiriError as exc:
        raise _trap(call, exc) from None
    except Exception as exc:  # a host bug must not reach wasmtime-py's global slot
        raise _trap(call, SourceError(f"the host's fetch failed: {exc!r}")) from None


def _host_log(_store: Any, level: str, message: str) -> None:
    call = _call()
    try:
        call.source._log(level, message)
    except HakiriError as exc:
        raise _trap(call, exc) from None


def _host_now_ms(_store: Any) -> int:
    call = _call()
    try:
        return int(call.source._host.clock.now().timestamp() * 1000)
    except Exception as exc:  # a host bug must not reach wasmtime-py's global slot
        raise _trap(call, SourceError(f"the host's clock failed: {exc!r}")) from None


def _shared_linker() -> Linker:
    """The process's Linker: WASI (nothing granted in the store) and the host interface."""
    global _linker
    with _linker_lock:
        if _linker is None:
            api = import_component_api()
            linker: Linker = api.Linker(shared_engine())
            # A Python guest's runtime imports WASI; every store gets a WasiConfig that
            # grants nothing (no files, no environment, no network).
            linker.add_wasip2()
            with linker.root() as root, root.add_instance(HOST_INTERFACE) as host:
                host.add_func("fetch", _host_fetch)
                host.add_func("log", _host_log)
                host.add_func("now-ms", _host_now_ms)
            _linker = linker
            atexit.register(_release_linker)
        return _linker


def _release_linker() -> None:
    """Free the linker before interpreter shutdown unloads wasmtime (see engine._release)."""
    global _linker
    with _linker_lock:
        if _linker is not None:
            _linker.close()
            _linker = None


def check_exports(component: Component, path: Path) -> dict[str, ExportIndex]:
    """The ``source`` functions of ``component``; ``WasmInvalid`` if any is missing."""
    interface = component.get_export_index(SOURCE_INTERFACE)
    if interface is None:
        raise WasmInvalid(
            f"{path} does not export {SOURCE_INTERFACE}: it is not a Hakiri connector",
            hint="build it against the hakiri:connector world (WIT in hakiri.connectors.wasm)",
            path=str(path),
        )
    exports: dict[str, ExportIndex] = {}
    for name in SOURCE_EXPORTS:
        index = component.get_export_index(name, interface)
        if index is None:
            raise WasmInvalid(
                f"{path} exports {SOURCE_INTERFACE} without {name!r}",
                hint="rebuild it against the hakiri:connector@0.1.0 WIT",
                path=str(path),
            )
        exports[name] = index
    return exports


def _instantiate(store: Store, connector: LoadedConnector) -> Any:
    """A new instance of ``connector`` in ``store``: ``WasmInvalid`` when it imports something
    the host does not provide (another world, WASI it is not given), ``WasmMemoryLimit``
    when it cannot start within its memory."""
    wasmtime = import_wasmtime()
    try:
        return _shared_linker().instantiate(store, connector.component)
    except wasmtime.WasmtimeError as exc:
        reason = _trap_reason(str(exc))
        limits = connector.limits
        if any(sign in str(exc) for sign in _MEMORY_SIGNS):
            raise WasmMemoryLimit(
                f"connector {connector.name!r} needs more than its {limits.memory_mb} MiB of "
                f"memory to start: {reason}",
                hint="raise [limits].memory_mb in the manifest, or grant.limits.memory_mb",
                connector=connector.name,
                memory_mb=limits.memory_mb,
            ) from None
        raise WasmInvalid(
            f"{connector.path} cannot run on this host: {reason}",
            hint="build it against the hakiri:connector world only (WIT in "
            "hakiri.connectors.wasm); the host provides the host interface and WASI 0.2",
            path=str(connector.path),
        ) from None


# -- helpers -------------------------------------------------------------------------------


class _LogMeter:
    """Bytes logged in the last second, across the calls of one source."""

    def __init__(self, per_second: int) -> None:
        self._limit = per_second
        self._events: deque[tuple[float, int]] = deque()
        self._total = 0
        self._lock = threading.Lock()

    def admit(self, size: int) -> bool:
        now = time.monotonic()
        with self._lock:
            while self._events and self._events[0][0] <= now - 1.0:
                self._total -= self._events.popleft()[1]
            if self._total + size > self._limit:
                return False
            self._events.append((now, size))
            self._total += size
            return True


def _output_tail(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - _OUTPUT_TAIL))
            data = handle.read()
    except OSError:
        return ""
    lines = data.decode("utf-8", "replace").splitlines()
    kept = [line for line in lines if line.strip() and not line.startswith(_NOISE)]
    text = " | ".join(line.strip() for line in kept)
    return text[-500:] if len(text) > 500 else text


def _trap_reason(text: str) -> str:
    """The last line of wasmtime's error: the trap itself, after the backtrace."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "unknown trap"


def _json_default(value: Any) -> Any:
    # TOML gives dates and times; the guest gets them as ISO 8601 text.
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


@dataclass(slots=True)
class _Output:
    """Temporary files the guest's stdout and stderr go to during one call."""

    stdout: str = field(default="")
    stderr: str = field(default="")

    @classmethod
    def create(cls) -> _Output:
        paths = []
        for stream in ("out", "err"):
            fd, path = tempfile.mkstemp(prefix=f"hakiri-wasm-{stream}-")
            os.close(fd)
            paths.append(path)
        return cls(paths[0], paths[1])

    def tail(self) -> str:
        return _output_tail(self.stderr) or _output_tail(self.stdout)

    def remove(self) -> None:
        for path in (self.stdout, self.stderr):
            try:
                os.unlink(path)
            except OSError:
                pass


# -- the source ----------------------------------------------------------------------------


class WasmSource(Closing):
    """A ``hakiri.core.ports.Source`` backed by a ``hakiri:connector`` component."""

    def __init__(self, connector: LoadedConnector, options: Mapping[str, Any], host: Host) -> None:
        self.connector = connector
        self._host = host
        self._options = json.dumps(dict(options), default=_json_default, ensure_ascii=False)
        self._meter = _LogMeter(connector.limits.log_bytes_per_second)
        self._fetcher = HostFetcher(
            connector=connector.name,
            hosts=connector.hosts,
            secrets=connector.secrets,
            resolver=host.secrets,
            max_body_bytes=connector.limits.memory_mb << 20,
        )
        self._decoder: ArrowDecoder | None = None
        self._decode_lock = threading.Lock()
        self.calls = 0
        """Export calls made so far."""

    @property
    def name(self) -> str:
        return self.connector.name

    @property
    def requests_sent(self) -> int:
        """HTTP requests the guest made through the host (redirect hops included)."""
        return self._fetcher.requests

    def close(self) -> None:
        self._fetcher.close()

    def check_options(self) -> None:
        """Refuse bad options at load, before a run reads anything: the guest's ``discover``
        runs on them with the network closed, and a ``config`` error becomes a
        ``ConfigError`` now. Any other outcome (streams, a ``source`` error, a trap after a
        refused fetch) is left for the run to meet with the network open; an instance that
        cannot start (``WasmInvalid``, ``WasmMemoryLimit``) fails the load."""
        try:
            self._invoke("discover", self._options, offline=True)
        except WasmMemoryLimit:
            raise
        except SourceError:
            pass

    # -- the port ----------------------------------------------------------------------------

    def spec(self) -> dict[str, Any]:
        """The JSON Schema of the guest's options."""
        text = self._invoke("spec")
        value = self._json(text, "spec")
        if not isinstance(value, dict):
            raise self._bad_answer("spec", "a JSON Schema object")
        return value

    def discover(self) -> list[StreamInfo]:
        value = self._json(self._invoke("discover", self._options), "discover")
        if not isinstance(value, list):
            raise self._bad_answer("discover", "a JSON list of streams")
        return [self._stream(item) for item in value]

    def plan(self, cursor: JsonValue) -> Plan:
        argument = None if cursor is None else json.dumps(cursor)
        result = self._invoke("plan", self._options, argument)
        kind_name = str(result.__dict__.get("cursor-kind"))
        try:
            kind = CursorKind(kind_name)
        except ValueError:
            raise self._bad_answer("plan", "a known cursor kind") from None
        pages = [self._page(page, "plan") for page in result.pages]
        return Plan(pages, kind, f"wasm connector {self.name}")

    def read(self, page: Page) -> PageData:
        record = import_component_api().Record()
        record.key = page.key
        record.params = json.dumps(page.params)
        result = self._invoke("read", self._options, record)
        fields = result.__dict__
        rows: bytes = fields["rows"]
        table = self._decode(str(fields["format"]), rows, page)
        next_pages = [self._page(item, "read") for item in fields["next-pages"]]
        cursor_text = fields["cursor"]
        cursor = None if cursor_text is None else self._json(cursor_text, "read (cursor)")
        return PageData(table, next_pages, cursor, len(rows))

    # -- calling the guest -------------------------------------------------------------------

    def _invoke(self, export: str, *args: Any, offline: bool = False) -> Any:
        """Call ``export`` in a fresh instance; its ``ok`` value, or a typed error."""
        wasmtime = import_wasmtime()
        limits = self.connector.limits
        store: Store = wasmtime.Store(shared_engine())
        store.set_fuel(limits.fuel)
        store.set_limits(memory_size=limits.memory_mb << 20)
        output = _Output.create()
        call = _Call(self, export, time.monotonic() + limits.timeout_seconds, offline=offline)
        _current.call = call
        self.calls += 1
        try:
            wasi = wasmtime.WasiConfig()
            wasi.stdout_file = output.stdout
            wasi.stderr_file = output.stderr
            store.set_wasi(wasi)
            # +1: the tick in progress when the call starts is only partly the call's.
            store.set_epoch_deadline(int(limits.timeout_seconds / TICK_SECONDS) + 1)
            instance = _instantiate(store, self.connector)
            func = instance.get_func(store, self.connector.exports[export])
            if func is None:  # check_exports saw it: cannot happen
                raise WasmInvalid(f"{self.connector.path} lost its {export!r} export")
            result = func(store, *args)
        except wasmtime.WasmtimeError as exc:
            raise self._failure(call, str(exc), output) from None
        finally:
            _current.call = None
            output.remove()
        if call.violation is not None:
            raise call.violation
        return self._ok(export, result)

    def _ok(self, export: str, result: Any) -> Any:
        variant = import_component_api().Variant
        if not isinstance(result, variant):
            return result
        message = str(result.payload)
        if result.tag == "config":
            raise ConfigError(
                f"{self.connector.label} (connector {self.name!r}): {message}",
                hint="check the pipeline's [source] options against the connector's spec",
                connector=self.name,
            )
        raise SourceError(f"connector {self.name!r} ({export}): {message}", connector=self.name)

    def _failure(self, call: _Call, text: str, output: _Output) -> HakiriError:
        """The typed error of a trap."""
        if call.violation is not None:
            return call.violation
        limits = self.connector.limits
        where = f"connector {self.name!r} ({call.export})"
        tail = output.tail()
        said = f"; guest output: {tail}" if tail else ""
        if "all fuel consumed" in text:
            return WasmFuelExhausted(
                f"{where} used up its fuel ({limits.fuel:,} units per call)",
                hint="raise [limits].fuel in the connector's manifest if the work is "
                "legitimate (an endless loop needs fixing instead)",
                connector=self.name,
                fuel=limits.fuel,
            )
        if "wasm trap: interrupt" in text or time.monotonic() >= call.deadline:
            return self._timeout(call)
        if any(sign in tail or sign in text for sign in _MEMORY_SIGNS):
            # No output in this message: it is the runtime's report of the failed
            # allocation, which says nothing the message does not.
            return WasmMemoryLimit(
                f"{where} needed more than its {limits.memory_mb} MiB of memory",
                hint="raise [limits].memory_mb in the connector's manifest, or read smaller pages",
                connector=self.name,
                memory_mb=limits.memory_mb,
            )
        return WasmTrap(
            f"{where} trapped: {_trap_reason(text)}{said}",
            hint="a bug in the connector (what it printed, if anything, is quoted)",
            connector=self.name,
        )

    def _timeout(self, call: _Call) -> WasmTimeout:
        seconds = self.connector.limits.timeout_seconds
        return WasmTimeout(
            f"connector {self.name!r} ({call.export}) ran past its {seconds:g} s deadline",
            hint="raise [limits].timeout_seconds in the connector's manifest if the source is "
            "slow (an endless loop needs fixing instead)",
            connector=self.name,
            timeout_seconds=seconds,
        )

    # -- imports -----------------------------------------------------------------------------

    def _fetch(self, call: _Call, request: Any) -> Any:
        """``host.fetch``: a response record, or an error string for the guest."""
        if call.offline:
            return "the host makes no request while it checks the options (at load)"
        api = import_component_api()
        wanted = FetchRequest(
            method=str(request.method),
            url=str(request.url),
            headers=[(str(h.name), str(h.value)) for h in request.headers],
            body=request.body,
        )
        try:
            response = self._fetcher.fetch(wanted, deadline=call.deadline)
        except FetchDeadline:
            raise _trap(call, self._timeout(call)) from None
        except FetchFailed as exc:
            return str(exc)
        except HakiriError as exc:  # CapabilityDenied, SecretError
            # The guest hears why (it may report it); the run fails for it regardless.
            call.breach(exc)
            return exc.message
        record = api.Record()
        record.status = response.status
        record.headers = [_header(api, name, value) for name, value in response.headers]
        record.body = response.body
        record.url = response.url
        return record

    def _log(self, level: str, message: str) -> None:
        size = len(message.encode("utf-8", "replace"))
        if not self._meter.admit(size):
            limit = self.connector.limits.log_bytes_per_second
            raise WasmLogLimit(
                f"connector {self.name!r} logged more than {limit:,} bytes per second",
                hint="log less, or raise [limits].log_bytes_per_second in the connector's manifest",
                connector=self.name,
                log_bytes_per_second=limit,
            )
        log.log(_LOG_LEVELS.get(level, logging.INFO), "[%s] %s", self.name, message)

    # -- answers -------------------------------------------------------------------------------

    def _bad_answer(self, export: str, expected: str) -> SourceError:
        return SourceError(
            f"connector {self.name!r} answered {export} with something other than {expected}",
            hint="a bug in the connector",
            connector=self.name,
        )

    def _json(self, text: str, export: str) -> Any:
        try:
            return json.loads(text)
        except ValueError:
            raise self._bad_answer(export, "JSON") from None

    def _page(self, record: Any, export: str) -> Page:
        params = self._json(record.params, export)
        if not isinstance(params, dict):
            raise self._bad_answer(export, "pages whose params are JSON objects")
        return Page(str(record.key), params)

    def _stream(self, item: Any) -> StreamInfo:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise self._bad_answer("discover", "streams with a name")
        primary_key = item.get("primary_key") or ()
        options = item.get("options") or {}
        if isinstance(primary_key, str):
            primary_key = (primary_key,)
        if not isinstance(primary_key, list | tuple) or not isinstance(options, dict):
            raise self._bad_answer("discover", "streams as the WIT describes them")
        cursor_field = item.get("cursor_field")
        return StreamInfo(
            name=item["name"],
            cursor_field=str(cursor_field) if cursor_field is not None else None,
            primary_key=tuple(str(key) for key in primary_key),
            description=str(item.get("description") or ""),
            options=options,
        )

    def _decode(self, format_name: str, rows: bytes, page: Page) -> pa.Table:
        if not rows.strip():
            return pa.table({})
        if format_name == "arrow-ipc":
            try:
                with pa.ipc.open_stream(pa.py_buffer(rows)) as reader:
                    return normalize_table(reader.read_all())
            except (pa.ArrowInvalid, OSError):
                raise SourceError(
                    f"connector {self.name!r}: the rows of page {page.key!r} are not an Arrow "
                    "IPC stream",
                    hint="a bug in the connector",
                    connector=self.name,
                ) from None
        return self._decode_json_lines(rows, page)

    def _decode_json_lines(self, rows: bytes, page: Page) -> pa.Table:
        from hakiri.connectors._http.decode import ArrowDecoder

        # JSON text cannot hold a raw line break, so the lines joined with commas are a JSON
        # array: the connectors' shared decoder reads it columnar, with a run-stable schema.
        document = b"[" + rows.strip().replace(b"\n", b",") + b"]"
        with self._decode_lock:
            if self._decoder is None:
                self._decoder = ArrowDecoder(None)
            decoded = self._decoder.decode(document)
        if decoded is not None:
            return decoded.table
        return records_to_table(self._records(rows, page))

    def _records(self, rows: bytes, page: Page) -> list[dict[str, Any]]:
        """Rows one by one: blank lines skipped, the first bad line named."""
        records: list[dict[str, Any]] = []
        for number, line in enumerate(rows.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            if not isinstance(record, dict):
                raise SourceError(
                    f"connector {self.name!r}: line {number} of page {page.key!r} is not a "
                    "JSON object",
                    hint="a bug in the connector: JSON Lines rows are one object per line",
                    connector=self.name,
                )
            records.append(record)
        return records


def _header(api: Any, name: str, value: str) -> Any:
    record = api.Record()
    record.name = name
    record.value = value
    return record
