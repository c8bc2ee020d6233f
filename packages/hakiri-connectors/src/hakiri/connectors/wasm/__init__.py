"""WebAssembly source connectors: the ``hakiri:connector`` WIT world and its wasmtime host.

``connector = "wasm:path/to/name.wasm"`` in a pipeline's ``[source]`` loads a component with
its capability manifest ``name.toml`` beside it; ``grant = {hosts, secrets, limits}`` in
the same table says what the pipeline allows it. See ``docs/connectors/wasm.md``.

Importing this package is cheap and never imports wasmtime (the ``hakiri`` profile does
not install it); a component is loaded only when a pipeline uses one.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from hakiri.connectors.wasm.errors import (
    WasmError,
    WasmFuelExhausted,
    WasmInvalid,
    WasmLogLimit,
    WasmMemoryLimit,
    WasmTimeout,
    WasmTrap,
)
from hakiri.connectors.wasm.factory import WasmConnector, WasmOptions, connector_for
from hakiri.connectors.wasm.manifest import (
    DEFAULT_LIMITS,
    MAX_LIMITS,
    ConnectorManifest,
    Grant,
    HostPattern,
    Limits,
    LimitsSpec,
    load_manifest,
)

if TYPE_CHECKING:
    from hakiri.connectors.wasm.source import WasmSource

__all__ = [
    "DEFAULT_LIMITS",
    "MAX_LIMITS",
    "WIT_DIR",
    "ConnectorManifest",
    "Grant",
    "HostPattern",
    "Limits",
    "LimitsSpec",
    "WasmConnector",
    "WasmError",
    "WasmFuelExhausted",
    "WasmInvalid",
    "WasmLogLimit",
    "WasmMemoryLimit",
    "WasmOptions",
    "WasmSource",
    "WasmTimeout",
    "WasmTrap",
    "connector_for",
    "load_manifest",
]

WIT_DIR = Path(__file__).parent / "wit"
"""The WIT package ``hakiri:connector@0.1.0`` (``connector.wit``) guests build against."""


def __getattr__(name: str) -> Any:
    # The source module imports pyarrow; it loads when a source is first asked for.
    if name == "WasmSource":
        from hakiri.connectors.wasm.source import WasmSource

        return WasmSource
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
