"""`help.py mcp`: serve the project's commands to MCP clients (stdio, or Streamable HTTP on loopback)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

EXAMPLES = """examples:
  help.py mcp                         serve over stdio (what an MCP client launches)
  help.py mcp --http 127.0.0.1:8765   Streamable HTTP at http://127.0.0.1:8765/mcp
  help.py mcp --http 0.0.0.0:8765 --token SECRET
                                      beyond loopback a bearer token is required
  help.py mcp tools --json            the tools and their schemas

Protocol: 2026-07-28 (stateless, server/discover) and the 2024-11-05 .. 2025-11-25
handshake. Each tool runs `help.py <command> --json`; its result is that document."""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    from helper.parsing import add_global_options

    parser: argparse.ArgumentParser = sub.add_parser(
        "mcp",
        help="serve help.py's commands to MCP clients (assistants, editors)",
        description="An MCP server whose tools are help.py's commands.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--http", metavar="HOST:PORT", help="serve Streamable HTTP instead of stdio")
    parser.add_argument("--token", help="bearer token clients must send (or HELP_MCP_TOKEN)")
    parser.add_argument(
        "--allow-origin", action="append", default=[], metavar="ORIGIN", help="an extra allowed Origin (repeatable)"
    )
    parser.add_argument("--max-bytes", type=int, default=1 << 20, help="largest request accepted (default 1 MiB)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    tools = actions.add_parser("tools", help="list the tools with their schemas")
    add_global_options(tools, suppress=True)
    return parser


def run(args: argparse.Namespace, project: Any) -> int:
    from helper.mcp.server import Server
    from helper.mcp.tools import allow_interrupts

    allow_interrupts()
    server = Server(project.root, max_bytes=args.max_bytes, verbose=args.verbose > 0)
    if getattr(args, "action", None) == "tools":
        return _list(server)
    if args.http:
        from helper.mcp import http

        token = args.token or os.environ.get("HELP_MCP_TOKEN") or None
        httpd = http.make(server, http.parse_address(args.http), token, set(args.allow_origin))

        def ready(url: str) -> None:
            from helper.ui import console

            if console.json:
                console.result({"url": url})
            else:
                sys.stdout.write(url + "\n")
                sys.stdout.flush()

        return http.serve(httpd, ready)
    from helper.mcp import stdio

    return stdio.serve(server)


def _list(server: Any) -> int:
    from helper.mcp import tools
    from helper.mcp.server import MODERN_VERSIONS
    from helper.ui import console

    described = [tools.describe(s, MODERN_VERSIONS[0], True) for s in server.tools.values()]

    def render(rows: list[dict[str, Any]]) -> None:
        console.table(
            [(t["name"], "destructive" if t["annotations"]["destructiveHint"] else "", t["title"]) for t in rows],
            ("tool", "", "title"),
        )

    console.result(described, render)
    return 0
