"""The capability manifest beside a component, the pipeline's grant, and the check between them.

A component ``<name>.wasm`` ships ``<name>.toml``: what it is, the hosts it reaches, the
secrets it references and the limits it asks for. The pipeline's ``[source]`` table grants
hosts and secrets (``grant = {hosts = […], secrets = […]}``) and may lower the limits. A
component loads only when every declared host and secret is granted; at run time it reaches
exactly its declared hosts and substitutes exactly its declared secrets.

Host patterns: ``host`` (ports 80 and 443), ``host:port``, ``*.example.com`` (any subdomain,
not ``example.com`` itself) with or without a port, IPv4 addresses and ``[v6]:port``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hakiri.core.errors import CapabilityDenied, ConfigError
from hakiri.core.options import first_error

__all__ = [
    "DEFAULT_LIMITS",
    "MAX_LIMITS",
    "Capabilities",
    "ConnectorInfo",
    "ConnectorManifest",
    "Grant",
    "HostPattern",
    "Limits",
    "LimitsSpec",
    "check_capabilities",
    "effective_limits",
    "load_manifest",
    "manifest_path",
]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
"""What a connector or secret may be called (secret names as ``secret://NAME`` allows)."""
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?"
_HOST = re.compile(rf"(?:\*\.)?{_LABEL}(?:\.{_LABEL})*")
_DEFAULT_PORTS = frozenset({80, 443})


@dataclass(frozen=True, slots=True)
class Limits:
    """The resources one call of a guest export may use."""

    fuel: int
    """Instructions (roughly) per call."""
    memory_mb: int
    """Linear memory per instance, in MiB."""
    timeout_seconds: float
    """Wall clock per call."""
    log_bytes_per_second: int
    """Bytes of log lines per rolling second, per source."""


DEFAULT_LIMITS = Limits(
    fuel=20_000_000_000, memory_mb=256, timeout_seconds=30.0, log_bytes_per_second=16_384
)
"""What a manifest that says nothing gets."""
MAX_LIMITS = Limits(
    fuel=1_000_000_000_000, memory_mb=4_096, timeout_seconds=3_600.0, log_bytes_per_second=1 << 20
)
"""The host's hard maxima: no manifest or grant goes above them."""


class LimitsSpec(BaseModel):
    """``[limits]`` of a manifest, or ``grant.limits``: every key optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fuel: int | None = Field(default=None, gt=0, le=MAX_LIMITS.fuel)
    memory_mb: int | None = Field(default=None, gt=0, le=MAX_LIMITS.memory_mb)
    timeout_seconds: float | None = Field(default=None, gt=0, le=MAX_LIMITS.timeout_seconds)
    log_bytes_per_second: int | None = Field(default=None, gt=0, le=MAX_LIMITS.log_bytes_per_second)


@dataclass(frozen=True, slots=True)
class HostPattern:
    """One allowed host: an exact name or ``*.suffix``, one port or the default ones."""

    host: str
    """Lower case, without brackets for IPv6; for a wildcard, the suffix after ``*.``."""
    port: int | None
    """None: ports 80 and 443."""
    wildcard: bool = False

    @classmethod
    def parse(cls, text: str) -> HostPattern:
        """``ValueError`` with a reason when ``text`` is not a host pattern."""
        value = text.strip().lower()
        if "://" in value or "/" in value:
            raise ValueError(f"{text!r} is a URL; give a host or host:port")
        port: int | None = None
        if value.startswith("["):  # [v6] or [v6]:port
            end = value.find("]")
            if end < 0:
                raise ValueError(f"{text!r}: unclosed '['")
            host, rest = value[1:end], value[end + 1 :]
            if rest:
                if not rest.startswith(":"):
                    raise ValueError(f"{text!r} is not a host or host:port")
                port = _port(text, rest[1:])
            if not re.fullmatch(r"[0-9a-f:.]+", host):
                raise ValueError(f"{text!r}: not an IPv6 address")
            return cls(host, port)
        host, colon, port_text = value.partition(":")
        if colon:
            port = _port(text, port_text)
        if not _HOST.fullmatch(host):
            raise ValueError(f"{text!r} is not a host name, *.domain or IP address")
        if host.startswith("*."):
            return cls(host[2:], port, wildcard=True)
        return cls(host, port)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        host = f"*.{host}" if self.wildcard else host
        return host if self.port is None else f"{host}:{self.port}"

    def _host_matches(self, host: str) -> bool:
        if self.wildcard:
            return host.endswith("." + self.host)
        return host == self.host

    def matches(self, host: str, port: int) -> bool:
        """Whether a request to ``host``:``port`` is allowed by this pattern."""
        if self.port is None:
            if port not in _DEFAULT_PORTS:
                return False
        elif port != self.port:
            return False
        return self._host_matches(host.lower().strip("[]"))

    def covers(self, other: HostPattern) -> bool:
        """Whether everything ``other`` allows, this pattern allows too."""
        if self.port is not None and other.port != self.port:
            return False
        if self.port is None and other.port is not None and other.port not in _DEFAULT_PORTS:
            return False
        if other.wildcard:
            return self.wildcard and (
                other.host == self.host or other.host.endswith("." + self.host)
            )
        return self._host_matches(other.host)


def _port(text: str, port: str) -> int:
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r}: the port must be a number from 1 to 65535")
    return int(port)


def _check_hosts(values: list[str]) -> list[str]:
    for value in values:
        HostPattern.parse(value)
    return values


def _check_secrets(values: list[str]) -> list[str]:
    for value in values:
        if not _NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not a secret name (letters, digits, _ . -)")
    return values


class ConnectorInfo(BaseModel):
    """``[connector]``: what the component is."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_NAME.pattern, max_length=64)
    version: str = "0.0.0"
    description: str = ""


class Capabilities(BaseModel):
    """``[capabilities]``: the hosts a component reaches and the secrets it references."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hosts: list[str] = Field(default_factory=list)
    secrets: list[str] = Field(default_factory=list)

    _hosts = field_validator("hosts")(_check_hosts)
    _secrets = field_validator("secrets")(_check_secrets)

    def host_patterns(self) -> list[HostPattern]:
        return [HostPattern.parse(host) for host in self.hosts]


class ConnectorManifest(BaseModel):
    """``<name>.toml`` beside ``<name>.wasm``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    connector: ConnectorInfo
    capabilities: Capabilities = Field(default_factory=Capabilities)
    limits: LimitsSpec = Field(default_factory=LimitsSpec)


class Grant(BaseModel):
    """``grant`` in a pipeline's ``[source]`` table: what the pipeline allows the component."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hosts: list[str] = Field(default_factory=list)
    """Host patterns the component may reach (it must declare them too)."""
    secrets: list[str] = Field(default_factory=list)
    """Secret names the component may reference (it must declare them too)."""
    limits: LimitsSpec = Field(default_factory=LimitsSpec)
    """Lower limits than the manifest asks for (never higher than it, nor the maxima)."""

    _hosts = field_validator("hosts")(_check_hosts)
    _secrets = field_validator("secrets")(_check_secrets)


def manifest_path(wasm_path: Path) -> Path:
    """Where the manifest of ``wasm_path`` lives: ``<stem>.toml`` beside it."""
    return wasm_path.with_suffix(".toml")


def load_manifest(wasm_path: Path) -> ConnectorManifest:
    """The manifest beside ``wasm_path``; ``ConfigError`` when it is missing or invalid."""
    path = manifest_path(wasm_path)
    hint = "a WebAssembly connector ships <name>.toml beside <name>.wasm (docs/connectors/wasm.md)"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"no capability manifest for {wasm_path}: {path} does not exist", hint=hint
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}", hint=hint) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}", hint=hint) from None
    try:
        return ConnectorManifest.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {first_error(exc, noun='key')}", hint=hint) from None


def effective_limits(manifest: ConnectorManifest, grant: Grant) -> Limits:
    """The limits a call runs under: the manifest's (or the defaults), lowered by the grant.

    Both are already within the maxima (their models say so)."""
    values: dict[str, Any] = {}
    for name in ("fuel", "memory_mb", "timeout_seconds", "log_bytes_per_second"):
        asked = getattr(manifest.limits, name)
        value = getattr(DEFAULT_LIMITS, name) if asked is None else asked
        lowered = getattr(grant.limits, name)
        values[name] = value if lowered is None else min(value, lowered)
    return Limits(**values)


def check_capabilities(
    manifest: ConnectorManifest, grant: Grant, *, referenced_secrets: Sequence[str] = ()
) -> None:
    """``CapabilityDenied`` unless every declared host and secret is granted, and every
    secret the options reference is declared (the component could not use it otherwise)."""
    name = manifest.connector.name
    granted = [HostPattern.parse(host) for host in grant.hosts]
    missing_hosts = [
        str(pattern)
        for pattern in manifest.capabilities.host_patterns()
        if not any(allowed.covers(pattern) for allowed in granted)
    ]
    if missing_hosts:
        listed = ", ".join(repr(host) for host in missing_hosts)
        noun = "hosts" if len(missing_hosts) > 1 else "host"
        raise CapabilityDenied(
            f"capability denied: connector {name!r} declares network access to {listed}, "
            "which the pipeline does not grant",
            hint=f"add the {noun} to grant.hosts in the pipeline's [source] table if you "
            "trust the connector",
            connector=name,
            missing_hosts=missing_hosts,
        )
    missing_secrets = [s for s in manifest.capabilities.secrets if s not in grant.secrets]
    if missing_secrets:
        listed = ", ".join(repr(secret) for secret in missing_secrets)
        raise CapabilityDenied(
            f"capability denied: connector {name!r} declares the secret {listed}, which the "
            "pipeline does not grant",
            hint="add it to grant.secrets in the pipeline's [source] table if you trust the "
            "connector with it",
            connector=name,
            missing_secrets=missing_secrets,
        )
    undeclared = [s for s in referenced_secrets if s not in manifest.capabilities.secrets]
    if undeclared:
        listed = ", ".join(f"secret://{secret}" for secret in undeclared)
        raise CapabilityDenied(
            f"capability denied: the options reference {listed}, which connector {name!r} "
            "does not declare, so it could never be used",
            hint="remove the reference, or use a connector that declares the secret",
            connector=name,
            undeclared_secrets=undeclared,
        )
