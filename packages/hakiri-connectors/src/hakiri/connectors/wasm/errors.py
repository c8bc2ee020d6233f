"""The typed errors of the WebAssembly host: one per limit, plus invalid components and traps.

Each is a ``SourceError`` (the run fails as ``failed``, or ``partial_failure`` after a
commit) with a stable code. A breach of the capability grant at run time is
``hakiri.core.errors.CapabilityDenied``, the same error a load-time refusal raises.
"""

from __future__ import annotations

from hakiri.core.errors import HakiriError, SourceError

__all__ = [
    "WasmError",
    "WasmFuelExhausted",
    "WasmInvalid",
    "WasmLogLimit",
    "WasmMemoryLimit",
    "WasmTimeout",
    "WasmTrap",
]


class WasmError(SourceError):
    """A WebAssembly connector failed inside its sandbox."""

    code = "wasm_error"


class WasmInvalid(HakiriError):
    """The file is not a valid ``hakiri:connector`` component (bad input: nothing runs)."""

    code = "wasm_invalid"
    exit_code = 2


class WasmTrap(WasmError):
    """The guest trapped (an uncaught exception, a panic, an ``unreachable``)."""

    code = "wasm_trap"


class WasmFuelExhausted(WasmError):
    """The guest used up its fuel (instructions) for one call."""

    code = "wasm_fuel_exhausted"


class WasmTimeout(WasmError):
    """One call ran past its wall-clock deadline."""

    code = "wasm_timeout"


class WasmMemoryLimit(WasmError):
    """The guest needed more linear memory than its cap."""

    code = "wasm_memory_limit"


class WasmLogLimit(WasmError):
    """The guest logged more bytes per second than its limit."""

    code = "wasm_log_limit"
