"""The Hakiri agent surface: an MCP server whose tools let an agent look at sources, read
the context store and run pipelines (``hakiri mcp``; see docs/agent.md).

Importing this package is cheap: the MCP SDK loads when a server is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hakiri.agent.server import TOOL_NAMES, build_server

__all__ = ["TOOL_NAMES", "build_server"]


def __getattr__(name: str) -> Any:
    # Lazy: the CLI imports this package on every `hakiri` start.
    if name in __all__:
        from hakiri.agent import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
