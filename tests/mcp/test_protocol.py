"""Raw JSON-RPC against `help.py mcp` over stdio: both eras' handshakes, bad input, progress, cancellation."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PYTEST_PROJECT
from tests.mcp.conftest import RawClient, cli_json

MODERN = {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}


def init(client: RawClient, version: str) -> dict[str, Any]:
    params = {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}
    answer = client.request(1, "initialize", params)["result"]
    client.write({"jsonrpc": "2.0", "method": "notifications/initialized"})
    return dict(answer)


@pytest.mark.parametrize("version", ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"])
def test_initialize_accepts_each_handshake_version(raw: Callable[..., RawClient], version: str) -> None:
    client = raw()
    answer = init(client, version)
    assert answer["protocolVersion"] == version
    assert answer["serverInfo"]["name"] == "help.py" and "tools" in answer["capabilities"]
    tools = client.request(2, "tools/list")["result"]["tools"]
    env = next(t for t in tools if t["name"] == "env")
    assert env["inputSchema"]["type"] == "object"
    # outputSchema and title exist from 2025-06-18, annotations from 2025-03-26
    assert ("outputSchema" in env) == (version >= "2025-06-18")
    assert ("annotations" in env) == (version >= "2025-03-26")
    assert client.request(3, "ping")["result"] == {}
    assert client.close() == 0


def test_initialize_with_an_unknown_version_offers_the_latest(raw: Callable[..., RawClient]) -> None:
    assert init(raw(), "1999-01-01")["protocolVersion"] == "2025-11-25"


def test_modern_requests_need_no_handshake(raw: Callable[..., RawClient], sample: Path) -> None:
    client = raw()
    found = client.request("d", "server/discover", {"_meta": MODERN})["result"]
    assert found["resultType"] == "complete"
    assert "2026-07-28" in found["supportedVersions"] and "2025-11-25" in found["supportedVersions"]
    assert found["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "help.py"
    assert found["ttlMs"] >= 0 and found["cacheScope"] in ("public", "private")
    listed = client.request(2, "tools/list", {"_meta": MODERN})["result"]
    assert listed["resultType"] == "complete" and "ttlMs" in listed
    history = next(t for t in listed["tools"] if t["name"] == "history")
    assert history["outputSchema"]["type"] == "array"  # modern results may be arrays, as the CLI prints
    cli_json(sample, "env")
    called = client.request(3, "tools/call", {"name": "env", "arguments": {}, "_meta": MODERN})["result"]
    assert called["resultType"] == "complete" and called["isError"] is False
    assert called["structuredContent"] == cli_json(sample, "env")
    doctor = client.request(4, "tools/call", {"name": "doctor", "_meta": MODERN})["result"]
    assert isinstance(doctor["structuredContent"], list)


def test_unsupported_modern_version_lists_the_supported_ones(raw: Callable[..., RawClient]) -> None:
    meta = {"io.modelcontextprotocol/protocolVersion": "2099-01-01"}
    err = raw().request(1, "tools/list", {"_meta": meta})["error"]
    assert err["code"] == -32022
    assert err["data"]["requested"] == "2099-01-01" and "2026-07-28" in err["data"]["supported"]


def test_bad_input_gets_errors_and_the_server_keeps_serving(raw: Callable[..., RawClient]) -> None:
    client = raw("--max-bytes", "2000")
    init(client, "2025-11-25")
    client.write("{not json")
    assert client.next()["error"]["code"] == -32700
    client.write("[1, 2]")
    assert client.next()["error"]["code"] == -32600
    client.write(json.dumps({"jsonrpc": "2.0", "id": 7, "method": "ping", "params": {"pad": "x" * 5000}}))
    too_big = client.next()["error"]
    assert too_big["code"] == -32600 and "too large" in too_big["message"]
    assert client.request(2, "no/such/method")["error"]["code"] == -32601
    assert client.request(3, "tools/call", {"name": "nope"})["error"]["code"] == -32602
    wrong_type = client.request(4, "tools/call", {"name": "env", "arguments": {"refresh": "yes"}})["error"]
    assert wrong_type["code"] == -32602 and "boolean" in wrong_type["message"]
    unknown_arg = client.request(5, "tools/call", {"name": "history", "arguments": {"bogus": 1}})["error"]
    assert unknown_arg["code"] == -32602 and "bogus" in unknown_arg["message"]
    not_list = client.request(6, "tools/call", {"name": "install", "arguments": {"packages": "requests"}})
    assert not_list["error"]["code"] == -32602
    option_like = client.request(8, "tools/call", {"name": "history", "arguments": {"command": "--all"}})
    assert option_like["error"]["code"] == -32602
    assert client.request(9, "ping")["result"] == {}
    assert client.close() == 0


@pytest.fixture
def slow_project(make_project: Callable[..., Path]) -> Path:
    """The sample project (same directory) plus a slow test."""
    return make_project(
        PYTEST_PROJECT,
        files={
            "tests/test_slow.py": "import time\n\ndef test_slow():\n    time.sleep(3)\n\ndef test_fast():\n    pass\n"
        },
    )


def test_long_tool_reports_progress_and_per_test_results(raw: Callable[..., RawClient], slow_project: Path) -> None:
    client = raw(project=slow_project)
    init(client, "2025-11-25")
    params = {"name": "test", "arguments": {"all": True}, "_meta": {"progressToken": "t1"}}
    client.write({"jsonrpc": "2.0", "id": 10, "method": "tools/call", "params": params})
    result = client.response(10, timeout=240)["result"]
    progress = [m for m in client.pending if m.get("method") == "notifications/progress"]
    assert progress and all(m["params"]["progressToken"] == "t1" for m in progress)
    steps = [m["params"]["progress"] for m in progress]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)  # progress only increases
    data = result["structuredContent"]
    assert result["isError"] is False and data["exit_code"] == 0
    outcomes = {t["id"]: t["outcome"] for t in data["tests"]}
    assert outcomes["tests/test_slow.py::test_slow"] == outcomes["tests/test_slow.py::test_fast"] == "passed"
    cached = client.request(11, "tools/call", {"name": "test", "arguments": {}})["result"]["structuredContent"]
    cli = cli_json(slow_project, "test")
    timing = ("seconds",)
    assert {k: v for k, v in cached.items() if k not in timing} == {k: v for k, v in cli.items() if k not in timing}
    assert cached["cached"] == len(outcomes) and cached["ran"] == 0


def running_in(root: Path) -> list[str]:
    """Command lines of live processes that name `root` (the tool's `help.py -C ROOT` and its children)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if (str(root) in cmdline or cwd == str(root)) and "help.py mcp" not in cmdline:
            found.append(cmdline)
    return found


def test_cancelled_call_stops_and_gets_no_response(raw: Callable[..., RawClient], slow_project: Path) -> None:
    client = raw(project=slow_project)
    init(client, "2025-11-25")
    client.request(2, "tools/call", {"name": "test", "arguments": {}})  # makes .venv and caches test_fast
    (slow_project / "tests" / "test_slow.py").write_text("import time\n\ndef test_slow():\n    time.sleep(30)\n")
    params = {"name": "test", "arguments": {"all": True}, "_meta": {"progressToken": 5}}
    client.write({"jsonrpc": "2.0", "id": 20, "method": "tools/call", "params": params})
    first = client.next(timeout=60)
    assert first["method"] == "notifications/progress" and first["params"]["progressToken"] == 5
    started = time.monotonic()
    client.write({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 20}})
    assert client.request(21, "ping")["result"] == {}
    with pytest.raises(Exception):  # noqa: B017 - queue.Empty: nothing more is said about request 20
        while True:
            message = client.next(timeout=4)
            assert message.get("id") != 20
    # the command and everything it started are gone, long before the 30 s sleep ends
    assert not running_in(slow_project), running_in(slow_project)
    assert time.monotonic() - started < 25
    assert client.close() == 0
