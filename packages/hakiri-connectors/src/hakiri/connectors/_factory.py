"""``SourceConnector``: the entry-point object every built-in source connector is.

Each connector's package instantiates it with its name, description, pydantic options model
and source class (as ``"module:Class"``). It validates options against the model (one clear
``ConfigError`` line naming the key), checks that every ``secret://`` reference is set (the
values are dropped: a source resolves them itself, when it makes a request), and only then
imports the source's module and builds ``Class(options, host)``, so loading an entry point
stays cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, cast

from pydantic import BaseModel

from hakiri.core.options import validate_options
from hakiri.core.ports import ConnectorFactory, Host, Source
from hakiri.core.secrets import find_secret_refs

__all__ = ["SourceConnector"]

C = TypeVar("C", bound=BaseModel)
S = TypeVar("S", bound=Source)


@dataclass(slots=True)
class SourceConnector(Generic[C, S]):
    """A ``hakiri.core.ports.ConnectorFactory`` of sources.

    Annotate the instance as ``SourceConnector[Config, SourceClass]`` so the type checker
    proves the class honours the ``Source`` port."""

    name: str
    description: str
    model: type[C]
    source: str
    """``"module:Class"`` of the source, imported by ``create``; ``Class(options, host)``."""
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
        module, _, cls = self.source.partition(":")
        return cast(S, getattr(importlib.import_module(module), cls)(config, host))


if TYPE_CHECKING:  # the type checker proves the port is honoured

    def _is_factory(connector: SourceConnector[BaseModel, Source]) -> ConnectorFactory:
        return connector
