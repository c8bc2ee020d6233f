"""Validate a connector's options against its pydantic model, failing with one clear line.

``describe_error`` is the one wording of a validation problem (an unknown key, a missing
one, a bad value) that every connector factory and the WebAssembly host's manifest and
grant checks use; only the noun differs ("option", "key"). ``validate_options`` is the one
check of a connector's options, from a factory or, with ``locate``, from a manifest (the
runtime names the file, line and key of the first offending option).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from hakiri.core.errors import ConfigError

__all__ = ["Locate", "describe_error", "first_error", "validate_options"]

M = TypeVar("M", bound=BaseModel)

Locate = Callable[[tuple[str, ...]], tuple[str, str]]
"""Where an option is written: its path inside the options -> (``file:line``, its full key)."""


def describe_error(error: Mapping[str, Any], *, noun: str = "option") -> str:
    """One pydantic error as a phrase naming its key: ``unknown option 'x'``,
    ``missing required option 'x'``, ``option 'x': <why>``. With ``noun="key"`` a bad value
    reads ``x: <why>`` (the key path, as a TOML file spells it)."""
    location = ".".join(str(part) for part in error.get("loc", ()))
    if error.get("type") == "extra_forbidden":
        return f"unknown {noun} {location!r}"
    if error.get("type") == "missing":
        return f"missing required {noun} {location!r}"
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    if not location:
        return message
    return f"{noun} {location!r}: {message}" if noun == "option" else f"{location}: {message}"


def first_error(exc: ValidationError, *, noun: str = "option") -> str:
    """The first error of ``exc`` on one line, with how many more there are."""
    errors = exc.errors(include_url=False, include_input=False)
    first = describe_error(errors[0], noun=noun) if errors else str(exc)
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{first}{more}"


def validate_options(
    model: type[M],
    options: Mapping[str, Any],
    connector: str,
    *,
    locate: Locate | None = None,
) -> M:
    """``options`` as ``model``; raises ``ConfigError`` naming the first offending key, after
    ``file:line: key:`` of where it is written when ``locate`` says."""
    try:
        return model.model_validate(dict(options))
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        message = f"{connector} connector: {first_error(exc)}"
        details: dict[str, Any] = {"errors": [describe_error(error) for error in errors]}
        if locate is not None and errors:
            where, key = locate(tuple(str(part) for part in errors[0]["loc"]))
            message = f"{where}: {key}: {message}"
            details["key"] = key
        raise ConfigError(
            message, hint=f"see the {connector} connector's spec for its options", **details
        ) from None
