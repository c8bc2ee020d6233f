"""Validate a connector's options against its pydantic model, failing with one clear line."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from hakiri.core.errors import ConfigError

__all__ = ["validate_options"]

M = TypeVar("M", bound=BaseModel)


def _describe(error: Mapping[str, Any]) -> str:
    location = ".".join(str(part) for part in error.get("loc", ()))
    if error.get("type") == "extra_forbidden":
        return f"unknown option {location!r}"
    if error.get("type") == "missing":
        return f"missing required option {location!r}"
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    return f"option {location!r}: {message}" if location else message


def validate_options(model: type[M], options: Mapping[str, Any], connector: str) -> M:
    """``options`` as ``model``; raises ``ConfigError`` naming the first offending key."""
    try:
        return model.model_validate(dict(options))
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        first = _describe(errors[0]) if errors else str(exc)
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ConfigError(
            f"{connector} connector: {first}{more}",
            hint=f"see the {connector} connector's spec for its options",
            errors=[_describe(error) for error in errors],
        ) from None
