"""The ``context`` entry point: the project's context store as a destination."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from hakiri.context.destination.config import ContextDestinationConfig
from hakiri.context.destination.destination import ContextDestination
from hakiri.core.options import validate_options
from hakiri.core.ports import ConnectorFactory, Destination, Host

__all__ = ["ContextConnector", "connector"]


class ContextConnector:
    """Factory of context destinations (a ``hakiri.core.ports.ConnectorFactory``)."""

    name: str = "context"
    kind: Literal["source", "destination"] = "destination"
    description: str = "The project's context store: Parquet files published through the catalog."

    @property
    def config_model(self) -> type[ContextDestinationConfig]:
        return ContextDestinationConfig

    def create(self, options: Mapping[str, Any], host: Host) -> ContextDestination:
        """A ``ContextDestination`` on the host's store and catalog; raises ``ConfigError``."""
        validate_options(ContextDestinationConfig, options, self.name)
        return ContextDestination(host)


connector = ContextConnector()

if TYPE_CHECKING:  # the type checker proves both sides of the port are honoured
    _factory: ConnectorFactory = connector

    def _is_destination(destination: ContextDestination) -> Destination:
        return destination
