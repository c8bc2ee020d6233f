"""Options of the context destination (none yet: the store and catalog come from the host)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["ContextDestinationConfig"]


class ContextDestinationConfig(BaseModel):
    """The project's own context store. Where it lives is a project setting, not an option
    of the destination, so there is nothing to configure here."""

    model_config = ConfigDict(extra="forbid", title="context destination")
