"""A ``hakiri.core.ports.Host`` for tests: directories, a dict of secrets, a clock, a catalog."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from hakiri.core.clock import SystemClock
from hakiri.core.errors import SecretError
from hakiri.core.ports import Catalog, Clock, Host, SecretResolver

__all__ = ["DictSecrets", "TestHost"]


class DictSecrets:
    """Secrets from a dict; remembers which names were looked up (tests assert on it)."""

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self.values: dict[str, str] = dict(values or {})
        self.lookups: list[str] = []

    def resolve(self, name: str) -> str:
        self.lookups.append(name)
        try:
            return self.values[name]
        except KeyError:
            raise SecretError(
                f"secret {name!r} is not set", hint=f"set {name} in the test host's secrets"
            ) from None


class TestHost:
    """What a connector gets from its host, with test-friendly defaults.

    ``store_root`` defaults to ``<project_root>/.hakiri``. Asking for ``catalog`` when none
    was given fails loudly, so a source that touches the catalog is caught.
    """

    __test__: ClassVar[bool] = False  # not a pytest test class, despite the name

    def __init__(
        self,
        project_root: Path,
        store_root: Path | None = None,
        *,
        secrets: Mapping[str, str] | SecretResolver | None = None,
        clock: Clock | None = None,
        catalog: Catalog | None = None,
    ) -> None:
        self._project_root = Path(project_root)
        self._store_root = Path(store_root) if store_root else self._project_root / ".hakiri"
        if secrets is None or isinstance(secrets, Mapping):
            self._secrets: SecretResolver = DictSecrets(secrets)
        else:
            self._secrets = secrets
        self._clock: Clock = clock or SystemClock()
        self._catalog = catalog

    @property
    def project_root(self) -> Path:
        return self._project_root

    @property
    def store_root(self) -> Path:
        return self._store_root

    @property
    def secrets(self) -> SecretResolver:
        return self._secrets

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            raise RuntimeError("this TestHost was created without a catalog")
        return self._catalog


if TYPE_CHECKING:  # the type checker proves the test host honours the port

    def _is_host(host: TestHost) -> Host:
        return host
