"""The MCP server: help.py's commands as Model Context Protocol tools (stdio and Streamable HTTP)."""
