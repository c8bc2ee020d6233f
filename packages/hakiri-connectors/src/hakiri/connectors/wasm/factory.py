"""``connector_for``: the factory of a ``connector = "wasm:<path>"`` source.

``create`` checks everything before any guest code runs: the grant's shape, the manifest
beside the component, declared ⊆ granted (``CapabilityDenied``), that every granted secret is
set, that the component compiles (cached) and exports ``hakiri:connector/source@0.1.0``
(``WasmInvalid``), that it instantiates with only what the host provides, and that the guest
accepts the options (its ``discover`` runs on them, network closed: ``ConfigError``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hakiri.connectors.wasm.manifest import (
    ConnectorManifest,
    Grant,
    Limits,
    check_capabilities,
    effective_limits,
    load_manifest,
)
from hakiri.core.errors import ConfigError
from hakiri.core.options import first_error
from hakiri.core.ports import ConnectorFactory, Host
from hakiri.core.secrets import find_secret_refs

if TYPE_CHECKING:
    from hakiri.connectors.wasm.source import WasmSource

__all__ = ["WasmConnector", "WasmOptions", "connector_for"]


class WasmOptions(BaseModel):
    """A wasm source's ``[source]`` table: ``grant`` for the host, every other key for the
    guest (its own ``spec`` says which)."""

    model_config = ConfigDict(extra="allow")

    grant: Grant = Field(default_factory=Grant)
    """What the pipeline allows the component: hosts, secrets, lower limits."""


@dataclass(slots=True)
class WasmConnector:
    """The ``ConnectorFactory`` of one component path (relative to the project root)."""

    reference: str
    name: str = ""
    description: str = ""
    kind: Literal["source", "destination"] = "source"

    def __post_init__(self) -> None:
        self.name = self.name or f"wasm:{self.reference}"
        self.description = self.description or (
            f"WebAssembly connector {self.reference}, sandboxed: it reaches only the hosts "
            "and secrets its manifest declares and the pipeline grants"
        )

    @property
    def config_model(self) -> type[BaseModel]:
        return WasmOptions

    def path(self, host: Host) -> Path:
        path = Path(self.reference).expanduser()
        return path if path.is_absolute() else host.project_root / path

    def create(self, options: Mapping[str, Any], host: Host) -> WasmSource:
        """The ``WasmSource`` for ``options``; raises ``ConfigError``, ``CapabilityDenied``,
        ``SecretError``, ``WasmInvalid`` or ``MissingDependency``, before any guest runs."""
        guest_options = dict(options)
        try:
            grant = Grant.model_validate(guest_options.pop("grant", None) or {})
        except ValidationError as exc:
            raise ConfigError(
                f"{self.name}: grant: {first_error(exc, noun='key')}",
                hint='grant = { hosts = ["host:port"], secrets = ["NAME"], limits = {…} }',
            ) from None
        path = self.path(host)
        if not path.is_file():
            raise ConfigError(
                f"WebAssembly connector {path} does not exist",
                hint="the path after 'wasm:' is relative to the project root",
            )
        manifest = load_manifest(path)
        check_capabilities(manifest, grant, referenced_secrets=find_secret_refs(guest_options))
        limits = effective_limits(manifest, grant)
        for secret in grant.secrets:
            host.secrets.resolve(secret)  # only to fail early: the value is not kept
        return _build(self.name, path, manifest, limits, guest_options, host)


def _build(
    label: str,
    path: Path,
    manifest: ConnectorManifest,
    limits: Limits,
    options: dict[str, Any],
    host: Host,
) -> WasmSource:
    from hakiri.connectors.wasm._wasmtime import import_wasmtime
    from hakiri.connectors.wasm.engine import load_component
    from hakiri.connectors.wasm.source import LoadedConnector, WasmSource, check_exports

    import_wasmtime()
    component = load_component(path)
    exports = check_exports(component, path)
    loaded = LoadedConnector(
        path=path,
        manifest=manifest,
        limits=limits,
        component=component,
        exports=exports,
        hosts=tuple(manifest.capabilities.host_patterns()),
        secrets=frozenset(manifest.capabilities.secrets),
        label=label,
    )
    source = WasmSource(loaded, options, host)
    try:
        source.check_options()
    except BaseException:
        source.close()
        raise
    return source


def connector_for(reference: str) -> ConnectorFactory:
    """The factory for ``connector = "wasm:<reference>"`` (the ``hakiri.connector_schemes``
    entry point). Cheap: nothing is read until ``create``."""
    return WasmConnector(reference)
