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
  help.py mcp config --client cursor  print .cursor/mcp.json with help.py's entry merged in
  help.py mcp config --client claude-desktop --write
                                      write it (other servers kept; the old file kept as .bak)

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
    config = actions.add_parser("config", help="add help.py to an MCP client's config (merged, with a backup)")
    config.add_argument("--client", required=True, choices=("claude-desktop", "cursor", "vscode"))
    config.add_argument("--write", action="store_true", help="write the file (default: print the merged result)")
    config.add_argument("--path", metavar="FILE", help="the client's config file (default: where that client keeps it)")
    config.add_argument("--name", default="help.py", help="the server's name in that file (default help.py)")
    for action in (tools, config):
        add_global_options(action, suppress=True)
    return parser


def run(args: argparse.Namespace, project: Any) -> int:
    from helper.mcp.server import Server
    from helper.mcp.tools import allow_interrupts

    allow_interrupts()
    server = Server(project.root, max_bytes=args.max_bytes, verbose=args.verbose > 0)
    if getattr(args, "action", None) == "tools":
        return _list(server)
    if getattr(args, "action", None) == "config":
        return _config(args, project)
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


def _config(args: argparse.Namespace, project: Any) -> int:
    from pathlib import Path

    from helper.mcp import clients
    from helper.ui import console

    path = Path(args.path) if args.path else clients.default_path(args.client, project.root)
    outcome = clients.apply(args.client, project.root, path, args.name, dry_run=not args.write)

    def render(d: dict[str, Any]) -> None:
        if not d["written"] and d["state"] != "unchanged":
            import json

            console.echo(json.dumps(d["config"], indent=2))
            console.echo(f"# {d['path']}: help.py entry would be {d['state']}; --write to write it")
        elif d["written"]:
            saved = f" (previous file kept as {d['backup']})" if d.get("backup") else ""
            console.success(f"{d['path']}: help.py entry {d['state']}{saved}")
        else:
            console.echo(f"{d['path']}: already up to date")

    console.result(outcome, render)
    return 0
