"""What every tool shares: the annotations that say whether it writes and the wrapper that
turns a ``HakiriError`` into an MCP tool error (``load`` and ``table_payload`` come from
``hakiri.agent.ops``)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec

from mcp.types import CallToolResult, TextContent, ToolAnnotations

from hakiri.agent.ops import load, table_payload
from hakiri.core.errors import HakiriError

__all__ = ["READ_ONLY", "WRITES", "error_result", "load", "table_payload", "tool_errors"]

P = ParamSpec("P")

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
"""Looks, never writes: safe for an agent to call without asking."""

WRITES = ToolAnnotations(
    read_only_hint=False,
    destructive_hint=False,  # a run appends/merges/replaces as its manifest says, no more
    idempotent_hint=False,  # a second run may read new rows and always records a new run
    open_world_hint=True,  # it talks to the pipeline's source
)
"""Writes to the context store (``pipeline.run`` only)."""


def error_result(err: HakiriError) -> CallToolResult:
    """The one line the CLI would print, as an MCP tool error (``isError``)."""
    text = f"error[{err.code}]: {err.one_line()}"
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


def tool_errors(fn: Callable[P, dict[str, Any]]) -> Callable[P, Any]:
    """Wrap a tool so a ``HakiriError`` becomes a tool error the agent can read and act on.

    Any other exception is a bug: the SDK reports it as a generic tool error and logs the
    traceback on the server's stderr, never to the client.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
        try:
            return fn(*args, **kwargs)
        except HakiriError as err:
            return error_result(err)

    return wrapper
