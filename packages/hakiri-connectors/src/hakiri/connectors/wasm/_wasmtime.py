"""wasmtime, imported on use.

``import hakiri.connectors.wasm`` never loads it: the ``hakiri`` profile does not install
wasmtime, and a project without ``connector = "wasm:…"`` never needs it. A missing package
becomes a ``MissingDependency`` naming the extra to install.
"""

from __future__ import annotations

import ctypes
import importlib
import threading
from types import ModuleType
from typing import Any

from hakiri.core.errors import MissingDependency

__all__ = ["import_component_api", "import_wasmtime"]

_HINT = (
    "install it with: pip install 'hakiri-connectors[wasm]'  "
    "(or: uv add 'hakiri-connectors[wasm]'; the hakiri-full profile includes it)"
)


def import_wasmtime() -> ModuleType:
    """The ``wasmtime`` module, or ``MissingDependency`` naming the ``wasm`` extra."""
    try:
        return importlib.import_module("wasmtime")
    except ImportError as exc:
        raise MissingDependency(
            'WebAssembly connectors (connector = "wasm:…") need wasmtime, which is not installed',
            hint=_HINT,
        ) from exc


def import_component_api() -> ModuleType:
    """``wasmtime.component`` (the component model API), with fast ``list<u8>`` lifting."""
    import_wasmtime()
    api = importlib.import_module("wasmtime.component")
    _install_fast_bytes(api)
    return api


# -- list<u8> without a Python call per byte ------------------------------------------------
#
# wasmtime-py converts a ``list<u8>`` (a page's rows, a response body) one element at a time
# through Python: ~2.5 s per MiB each way, which would make the boundary, not the guest, the
# cost of a page. The C API lays a list out as an array of ``wasmtime_component_val_t``
# (a kind byte, then the value), so a byte list is read and written as one strided copy
# through a memoryview. Installed only when the layout is the one checked below; any
# other list goes through wasmtime-py's own code.

_VAL_SIZE = 32
_U8_OFFSET = 8
_installed = False
_install_lock = threading.Lock()


def _layout_ok(ffi: Any) -> bool:
    val = ffi.wasmtime_component_val_t
    return bool(
        ctypes.sizeof(val) == _VAL_SIZE
        and val.kind.offset == 0
        and val.of.offset == _U8_OFFSET
        and ffi.wasmtime_component_valunion_t.u8.offset == 0
    )


def _values_view(data: Any, size: int) -> memoryview:
    """The bytes of ``size`` values at ``data`` (a ``wasmtime_component_val_t`` pointer)."""
    address = ctypes.cast(data, ctypes.c_void_p).value
    if address is None:
        raise ValueError("a list of values without storage")
    return memoryview((ctypes.c_uint8 * (size * _VAL_SIZE)).from_address(address)).cast("B")


def _install_fast_bytes(api: ModuleType) -> None:
    global _installed
    with _install_lock:
        if _installed:
            return
        _installed = True
        ffi = importlib.import_module("wasmtime._ffi")
        list_type = api.ListType
        if not _layout_ok(ffi) or not hasattr(list_type, "_is_bytes"):
            return
        slow_to_c = list_type.convert_to_c
        slow_from_c = list_type.convert_from_c
        u8_kind = int(ffi.WASMTIME_COMPONENT_U8.value)

        def convert_to_c(self: Any, store: Any, val: Any, ptr: Any) -> None:
            if not isinstance(val, bytes | bytearray) or not self._is_bytes() or not val:
                slow_to_c(self, store, val, ptr)
                return
            size = len(val)
            raw = ffi.wasmtime_component_vallist_t()
            ffi.wasmtime_component_vallist_new_uninit(raw, size)
            view = _values_view(raw.data, size)
            view[0::_VAL_SIZE] = bytes((u8_kind,)) * size
            view[_U8_OFFSET::_VAL_SIZE] = val
            ptr.contents.kind = ffi.WASMTIME_COMPONENT_LIST
            ptr.contents.of.list = raw

        def convert_from_c(self: Any, c: Any) -> Any:
            if not self._is_bytes():
                return slow_from_c(self, c)
            size = int(c.of.list.size)
            try:
                if size == 0:
                    return b""
                return _values_view(c.of.list.data, size)[_U8_OFFSET::_VAL_SIZE].tobytes()
            finally:
                ffi.wasmtime_component_vallist_delete(ctypes.byref(c.of.list))

        list_type.convert_to_c = convert_to_c
        list_type.convert_from_c = convert_from_c
