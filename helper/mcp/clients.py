"""`help.py mcp config --client NAME`: help.py's entry in an MCP client's JSON config, merged in place.

The user's other servers and settings are kept as they are; only the entry
named `help.py` (or --name) is added or replaced. Writing keeps the previous
file as NAME.bak and replaces the file atomically; a file that is not valid
JSON is never touched (the error says where it breaks).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from helper.errors import ConfigError, UsageError
from helper.mcp.tools import HELP_PY

# client -> (key holding the servers, where its config lives: "project" or "user")
CLIENTS: dict[str, tuple[str, str]] = {
    "claude-desktop": ("mcpServers", "user"),
    "cursor": ("mcpServers", "project"),
    "vscode": ("servers", "project"),
}


def default_path(client: str, root: Path) -> Path:
    if client == "cursor":
        return root / ".cursor" / "mcp.json"
    if client == "vscode":
        return root / ".vscode" / "mcp.json"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "Claude" / "claude_desktop_config.json"
    if os.name == "nt":
        return Path(os.environ.get("APPDATA", Path.home())) / "Claude" / "claude_desktop_config.json"
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "Claude" / "claude_desktop_config.json"


def entry(client: str, root: Path) -> dict[str, Any]:
    """How the client starts `help.py mcp` for this project."""
    server: dict[str, Any] = {"command": sys.executable, "args": [str(HELP_PY), "-C", str(root), "mcp"]}
    if client == "vscode":
        server = {"type": "stdio", **server}
    return server


def load(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path}:{exc.lineno}: not valid JSON ({exc.msg}); left unchanged",
            "fix or remove that file (comments are not supported here), then run this again",
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level is not a JSON object; left unchanged", "fix that file first")
    return data


def merged(client: str, root: Path, path: Path, name: str) -> tuple[dict[str, Any], str]:
    """(the whole config with help.py's entry, "added" | "updated" | "unchanged")."""
    if client not in CLIENTS:
        raise UsageError(f"unknown MCP client {client!r}", f"one of: {', '.join(CLIENTS)}")
    key = CLIENTS[client][0]
    data = load(path)
    servers = data.get(key)
    if servers is None:
        servers = {}
    if not isinstance(servers, dict):
        raise ConfigError(f"{path}: {key!r} is not a JSON object; left unchanged", "fix that file first")
    wanted = entry(client, root)
    state = "unchanged" if servers.get(name) == wanted else ("updated" if name in servers else "added")
    return {**data, key: {**servers, name: wanted}}, state


def apply(client: str, root: Path, path: Path, name: str, *, dry_run: bool) -> dict[str, Any]:
    """Merge help.py's entry into `path` (under a lock, so two runs never lose each other's edit)."""
    from helper.fsutil import atomic_copy, atomic_write, locked

    if dry_run:
        data, state = merged(client, root, path, name)
        return {"client": client, "path": str(path), "state": state, "written": False, "config": data}
    path.parent.mkdir(parents=True, exist_ok=True)
    backup = None
    with locked(path.with_name(f".{path.name}.lock")):
        data, state = merged(client, root, path, name)
        if state != "unchanged":
            if path.exists():
                backup = path.with_name(path.name + ".bak")
                atomic_copy(path, backup)
            atomic_write(path, json.dumps(data, indent=2) + "\n")
    return {
        "client": client,
        "path": str(path),
        "state": state,
        "written": state != "unchanged",
        "backup": str(backup) if backup else None,
        "config": data,
    }
