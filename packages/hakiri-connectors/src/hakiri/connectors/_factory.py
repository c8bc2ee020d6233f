"""``SourceConnector``: the entry-point object every built-in source connector is.

It validates options against the connector's pydantic model (one clear ``ConfigError``
line naming the key), checks that every ``secret://`` reference is set (the values are
dropped: a source resolves them itself, when it makes a request), and only then imports and
builds the source, so loading an entry point stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from pydantic import BaseModel

from hakiri.core.options import validate_options
from hakiri.core.ports import ConnectorFactory, Host
from hakiri.core.secrets import find_secret_refs

__all__ = ["SourceConnector"]

C = TypeVar("C", bound=BaseModel)
S = TypeVar("S")


@dataclass(slots=True)
class SourceConnector(Generic[C, S]):
    """A ``hakiri.core.ports.ConnectorFactory`` of sources."""

    name: str
    description: str
    model: type[C]
    build: Callable[[C, Host], S]
    """Builds the source from validated options; imports the heavy modules it needs."""
    kind: Literal["source", "destination"] = "source"

    @property
    def config_model(self) -> type[C]:
        return self.model

    def create(self, options: Mapping[str, Any], host: Host) -> S:
        """The source for ``options``, before any I/O.

        Raises ``ConfigError`` for invalid options and ``SecretError`` when a referenced
        secret is not set.
        """
        config = validate_options(self.model, options, self.name)
        for secret in find_secret_refs(config.model_dump(mode="json")):
            host.secrets.resolve(secret)
        return self.build(config, host)


if TYPE_CHECKING:  # the type checker proves the port is honoured

    def _is_factory(connector: SourceConnector[BaseModel, object]) -> ConnectorFactory:
        return connector
