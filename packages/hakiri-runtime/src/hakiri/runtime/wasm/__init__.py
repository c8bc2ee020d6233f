"""WebAssembly source connectors: the ``hakiri:connector`` WIT world and its wasmtime host.

Importing this package is cheap and never imports wasmtime (the ``hakiri`` profile does
not install it); a component is loaded only when a pipeline uses ``connector = "wasm:…"``.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["WIT_DIR"]

WIT_DIR = Path(__file__).parent / "wit"
"""The WIT package ``hakiri:connector@0.1.0`` (``connector.wit``) guests build against."""
