"""``hakiri serve``: the long-running daemon — the HTTP API, the in-process scheduler and MCP
over HTTP, over one project directory (see docs/serve.md)."""
