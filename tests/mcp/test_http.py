"""Streamable HTTP specifics: origin check, bearer token, sizes, header/body agreement, SSE responses."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import HELP, clean_env

MODERN = {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}


def post(url: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("Accept", "application/json, text/event-stream")
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def modern(method: str, params: dict[str, Any] | None = None, id_: int = 1) -> tuple[dict[str, Any], dict[str, str]]:
    body = {"jsonrpc": "2.0", "id": id_, "method": method, "params": {**(params or {}), "_meta": MODERN}}
    headers = {"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": method}
    if method == "tools/call":
        headers["Mcp-Name"] = str((params or {})["name"])
    return body, headers


def test_modern_requests_and_header_checks(http_server: Callable[..., str]) -> None:
    url = http_server()
    status, headers, body = post(url, *modern("server/discover"))
    assert status == 200 and json.loads(body)["result"]["resultType"] == "complete"
    request, headers = modern("tools/list")
    status, _, body = post(url, request, {**headers, "Mcp-Method": "tools/call"})
    assert status == 400 and json.loads(body)["error"]["code"] == -32020
    status, _, body = post(url, request, {**headers, "MCP-Protocol-Version": "2025-11-25"})
    assert status == 400 and json.loads(body)["error"]["code"] == -32020
    status, _, body = post(url, *modern("no/such"))
    assert status == 404 and json.loads(body)["error"]["code"] == -32601
    request, headers = modern("tools/call", {"name": "env", "arguments": {}})
    status, got, body = post(url, request, headers)
    assert status == 200 and got["Content-Type"] == "text/event-stream"
    events = [json.loads(line[5:]) for line in body.decode().splitlines() if line.startswith("data:")]
    assert events[-1]["id"] == 1 and events[-1]["result"]["isError"] is False
    status, _, body = post(url, {**request, "params": {**request["params"], "name": "config"}}, headers)
    assert status == 400 and json.loads(body)["error"]["code"] == -32020  # Mcp-Name says env, body says config


def test_legacy_handshake_over_http(http_server: Callable[..., str]) -> None:
    url = http_server()
    init = {"protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}
    status, _, body = post(url, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init})
    assert status == 200 and json.loads(body)["result"]["protocolVersion"] == "2025-03-26"
    status, _, body = post(url, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    assert status == 202 and body == b""
    status, _, body = post(
        url, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, {"MCP-Protocol-Version": "2025-03-26"}
    )
    tools = json.loads(body)["result"]["tools"]
    assert status == 200 and "outputSchema" not in tools[0] and "annotations" in tools[0]
    get = urllib.request.Request(url, method="GET")
    try:
        urllib.request.urlopen(get, timeout=10)
        raise AssertionError("GET must be refused")
    except urllib.error.HTTPError as exc:
        assert exc.code == 405


def test_origin_size_and_garbage(http_server: Callable[..., str]) -> None:
    url = http_server("--max-bytes", "1000")
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    status, _, body = post(url, ping, {"Origin": "http://evil.example"})
    assert status == 403
    status, _, _ = post(url, ping, {"Origin": "http://localhost:3000"})
    assert status == 200
    status, _, body = post(url, {**ping, "params": {"pad": "x" * 2000}})
    assert status == 413 and json.loads(body)["error"]["code"] == -32600
    status, _, body = post(url, b"{nope")
    assert status == 400 and json.loads(body)["error"]["code"] == -32700
    assert post(url, ping)[0] == 200  # still serving


def test_bearer_token(http_server: Callable[..., str]) -> None:
    url = http_server("--token", "s3cret")
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    assert post(url, ping)[0] == 401
    assert post(url, ping, {"Authorization": "Bearer wrong"})[0] == 401
    assert post(url, ping, {"Authorization": "Bearer s3cret"})[0] == 200


def test_beyond_loopback_needs_a_token(sample: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(HELP), "mcp", "--http", "0.0.0.0:0"],
        cwd=sample,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2 and "token" in done.stderr
