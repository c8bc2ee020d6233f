"""The MCP tools, one module per area: sources, the context store, pipelines, runs."""
