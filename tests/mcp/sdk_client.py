"""An MCP client on the official `mcp` SDK (1.x or 2.x), run inside that SDK's venv.

usage: sdk_client.py stdio|http TARGET... ; prints one JSON document:
{"sdk", "protocol", "tools": [...], "env": structuredContent, "env_error", "doctor_progress", "bad_tool"}
MCP_MODE (2.x only): auto (default) or legacy.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import os
import sys
from typing import Any

SDK = importlib.metadata.version("mcp")
MAJOR = int(SDK.split(".")[0])


async def exercise(call: Any, list_tools: Any) -> dict[str, Any]:
    listed = await list_tools()
    tools = [
        {
            "name": t.name,
            "title": t.title,
            "description": t.description,
            "readOnly": t.annotations.readOnlyHint if MAJOR < 2 else t.annotations.read_only_hint,
            "destructive": t.annotations.destructiveHint if MAJOR < 2 else t.annotations.destructive_hint,
            "outputSchema": (t.outputSchema if MAJOR < 2 else t.output_schema) is not None,
        }
        for t in listed.tools
    ]
    env = await call("env", {})
    steps: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        steps.append(progress)

    doctor = await call("doctor", {}, progress_callback=on_progress)
    bad = None
    try:
        await call("no_such_tool", {})
    except Exception as exc:  # the SDKs raise on a JSON-RPC error
        bad = f"{exc.__class__.__name__}: {exc}"
    structured = env.structuredContent if MAJOR < 2 else env.structured_content
    return {
        "tools": tools,
        "env": structured,
        "env_error": env.isError if MAJOR < 2 else env.is_error,
        "doctor_ok": (doctor.structuredContent if MAJOR < 2 else doctor.structured_content) is not None,
        "doctor_progress": steps,
        "bad_tool": bad,
    }


async def main_v1(kind: str, target: list[str]) -> dict[str, Any]:
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client
    from mcp.client.streamable_http import streamablehttp_client

    if kind == "stdio":
        params = StdioServerParameters(command=target[0], args=target[1:], env=dict(os.environ))
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            init = await session.initialize()
            out = await exercise(session.call_tool, session.list_tools)
            return {"protocol": init.protocolVersion, **out}
    async with streamablehttp_client(target[0]) as (read, write, _), ClientSession(read, write) as session:
        init = await session.initialize()
        out = await exercise(session.call_tool, session.list_tools)
        return {"protocol": init.protocolVersion, **out}


async def main_v2(kind: str, target: list[str]) -> dict[str, Any]:
    from mcp import Client, StdioServerParameters

    mode = os.environ.get("MCP_MODE", "auto")
    server: Any = target[0]
    if kind == "stdio":
        server = StdioServerParameters(command=target[0], args=target[1:], env=dict(os.environ))
    async with Client(server, mode=mode) as client:  # type: ignore[arg-type]
        out = await exercise(client.call_tool, client.list_tools)
        return {"protocol": client.protocol_version, **out}


def main() -> None:
    kind, target = sys.argv[1], sys.argv[2:]
    run = main_v1 if MAJOR < 2 else main_v2
    result = asyncio.run(run(kind, target))
    print(json.dumps({"sdk": SDK, **result}, default=str))


if __name__ == "__main__":
    main()
