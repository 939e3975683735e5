"""The official MCP SDK clients of both eras against `help.py mcp`, over stdio and Streamable HTTP."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from helper.cli import COMMANDS
from helper.plugins import command_index
from tests.conftest import HELP, run_help
from tests.mcp.conftest import cli_json, run_client

TOOLS = {"env", "env_check", "install", "test", "test_explain", "build", "run_status", "history", "doctor", "config"}


def plugin_available(name: str, project: Path) -> bool:
    listed = json.loads(run_help("--json", "plugins", cwd=project).stdout)
    rows = listed if isinstance(listed, list) else listed.get("plugins", [])
    return any(row.get("name") == name and row.get("available") for row in rows)


PROTOCOL = {"v1": "2025-11-25", "v2": "2026-07-28"}


def check(seen: dict[str, Any], era: str, project: Path) -> None:
    assert seen["sdk"].startswith("2." if era == "v2" else "1.")
    assert seen["protocol"] == PROTOCOL[era]
    tools = {t["name"]: t for t in seen["tools"]}
    # compose_ps is listed exactly when the compose plugin is available here (podman or docker)
    assert set(tools) == TOOLS | ({"compose_ps"} if plugin_available("compose", project) else set())
    for tool in tools.values():
        # every tool names the CLI command it runs, and that command exists
        command = re.search(r"`help\.py ([a-z_-]+)[^`]*--json`", tool["description"])
        assert command and command.group(1) in {*COMMANDS, *command_index()}, tool["description"]
        assert tool["title"] and tool["outputSchema"]
    assert tools["install"]["destructive"] is True and tools["install"]["readOnly"] is False
    assert tools["env"]["readOnly"] is True and tools["env"]["destructive"] is False
    assert seen["env"] == cli_json(project, "env")  # the tool's result is the CLI's --json document
    assert seen["doctor_ok"]
    assert "unknown tool" in seen["bad_tool"]


@pytest.mark.parametrize("era", ["v2", "v1"])
def test_sdk_client_over_stdio(era: str, sdk_python: Callable[[str], Path], sample: Path) -> None:
    python = sdk_python(era)
    cli_json(sample, "env")  # detection cached first, so both answers say "cached"
    seen = run_client(python, sample, "stdio", sys.executable, str(HELP), "mcp")
    check(seen, era, sample)


@pytest.mark.parametrize("era", ["v2", "v1"])
def test_sdk_client_over_http(
    era: str, sdk_python: Callable[[str], Path], sample: Path, http_server: Callable[..., str]
) -> None:
    python = sdk_python(era)
    cli_json(sample, "env")
    url = http_server()
    seen = run_client(python, sample, "http", url)
    check(seen, era, sample)


def test_current_sdk_in_legacy_mode_negotiates_the_handshake(sdk_python: Callable[[str], Path], sample: Path) -> None:
    cli_json(sample, "env")
    seen = run_client(sdk_python("v2"), sample, "stdio", sys.executable, str(HELP), "mcp", mode="legacy")
    assert seen["protocol"] == "2025-11-25"
    assert seen["env"] == cli_json(sample, "env")
