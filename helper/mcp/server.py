"""MCP protocol handling for both eras, independent of the transport.

Modern (2026-07-28): every request carries its protocol version, client info
and capabilities in `params._meta`; no handshake; `server/discover` says what
the server supports. Legacy (2024-11-05 .. 2025-11-25): `initialize` negotiates
a version for the connection (stdio) or is repeated per request (HTTP).
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from helper import __version__
from helper.mcp import tools

MODERN_VERSIONS = ("2026-07-28",)
LEGACY_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
SUPPORTED = (*MODERN_VERSIONS, *reversed(LEGACY_VERSIONS))
VERSION_KEY = "io.modelcontextprotocol/protocolVersion"
SERVER_INFO_KEY = "io.modelcontextprotocol/serverInfo"

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, INTERNAL_ERROR = -32700, -32600, -32601, -32602, -32603
HEADER_MISMATCH, UNSUPPORTED_PROTOCOL_VERSION = -32020, -32022
MAX_BYTES = 1 << 20  # a request larger than this is refused (the server keeps serving)

INSTRUCTIONS = (
    "help.py runs this project's development loop: find and check its Python environment, install, "
    "run the tests that a change can break (cached results for the rest), build, and report health. "
    "Each tool returns the JSON its `help.py <command> --json` prints."
)

Send = Callable[[dict[str, Any]], None]


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.data = code, message, data


def error(id_: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        err["data"] = data
    return {"jsonrpc": "2.0", "id": id_, "error": err}


def log(text: str) -> None:
    print(f"help.py mcp: {text}", file=sys.stderr, flush=True)


class Session:
    """What one connection negotiated (legacy era); modern requests need none of it."""

    def __init__(self) -> None:
        self.version: str | None = None
        self.initialized = False


class Server:
    def __init__(self, root: Path, *, max_bytes: int = MAX_BYTES, verbose: bool = False) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.verbose = verbose
        self.tools = tools.available()
        self.calls: dict[Any, tools.Call] = {}
        self._lock = threading.Lock()

    # -- parsing -----------------------------------------------------------
    def parse(self, raw: bytes | str) -> dict[str, Any] | list[Any]:
        """A message from its wire form; an RpcError says why it is not one."""
        if len(raw) > self.max_bytes:
            raise RpcError(INVALID_REQUEST, f"request too large: {len(raw)} bytes (limit {self.max_bytes})")
        try:
            message = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RpcError(PARSE_ERROR, f"parse error: {exc}") from None
        if not isinstance(message, (dict, list)):
            raise RpcError(INVALID_REQUEST, "a JSON-RPC message must be an object")
        return message

    @staticmethod
    def is_request(message: dict[str, Any]) -> bool:
        return "id" in message and "method" in message

    # -- dispatch ----------------------------------------------------------
    def handle(self, message: Any, session: Session, send: Send) -> dict[str, Any] | None:
        """The response to one message (None for notifications and cancelled calls).

        `send` delivers notifications (progress) that precede the response."""
        if not isinstance(message, dict):
            return error(None, INVALID_REQUEST, "batches are not supported; send one message at a time")
        id_ = message.get("id")
        method = message.get("method")
        if message.get("jsonrpc") != "2.0" or not isinstance(method, str):
            if "method" not in message and ("result" in message or "error" in message):
                return None  # a response to nothing we asked: ignore
            return error(id_ if _valid_id(id_) else None, INVALID_REQUEST, "not a JSON-RPC 2.0 request")
        params = message.get("params")
        if params is None:
            params = {}
        if not isinstance(params, dict):
            return error(id_, INVALID_PARAMS, "params must be an object") if "id" in message else None
        if "id" not in message:
            self.notification(method, params, session)
            return None
        if not _valid_id(id_):
            return error(None, INVALID_REQUEST, "id must be a string or an integer")
        try:
            result = self.request(id_, method, params, session, send)
        except RpcError as exc:
            return error(id_, exc.code, exc.message, exc.data)
        except Exception as exc:  # one broken request never stops the server
            log(f"internal error in {method}: {exc.__class__.__name__}: {exc}")
            return error(id_, INTERNAL_ERROR, f"internal error: {exc.__class__.__name__}: {exc}")
        if result is None:
            return None
        return {"jsonrpc": "2.0", "id": id_, "result": result}

    def notification(self, method: str, params: dict[str, Any], session: Session) -> None:
        if method == "notifications/initialized":
            session.initialized = True
        elif method == "notifications/cancelled":
            with self._lock:
                call = self.calls.get(_key(params.get("requestId")))
            if call is not None:
                if self.verbose:
                    log(f"cancelling request {params.get('requestId')!r}")
                call.cancel()
        elif self.verbose:
            log(f"ignored notification {method}")

    def era(self, params: dict[str, Any], session: Session) -> tuple[str, bool]:
        """(protocol version, modern?) for a request; an unsupported modern version is an RpcError."""
        meta = params.get("_meta")
        if isinstance(meta, dict) and VERSION_KEY in meta:
            version = meta[VERSION_KEY]
            if version not in MODERN_VERSIONS:
                raise RpcError(
                    UNSUPPORTED_PROTOCOL_VERSION,
                    "Unsupported protocol version",
                    {"supported": list(SUPPORTED), "requested": version},
                )
            return version, True
        return session.version or LEGACY_VERSIONS[-1], False

    def request(
        self, id_: Any, method: str, params: dict[str, Any], session: Session, send: Send
    ) -> dict[str, Any] | None:
        if method == "initialize":
            return self.initialize(params, session)
        version, modern = self.era(params, session)
        if method == "server/discover":
            result: dict[str, Any] | None = {
                "supportedVersions": list(SUPPORTED),
                "capabilities": self.capabilities(),
                "instructions": INSTRUCTIONS,
                "_meta": {SERVER_INFO_KEY: self.server_info()},
                "ttlMs": 60_000,
                "cacheScope": "public",
            }
        elif method == "ping":
            result = {}
        elif method == "tools/list":
            result = {"tools": [tools.describe(s, version, modern) for s in self.tools.values()]}
            if modern:
                result |= {"ttlMs": 60_000, "cacheScope": "public"}
        elif method == "tools/call":
            result = self.call(id_, params, version, modern, send)
        else:
            raise RpcError(METHOD_NOT_FOUND, f"method not found: {method}")
        if result is not None and modern:
            result.setdefault("resultType", "complete")
        return result

    def initialize(self, params: dict[str, Any], session: Session) -> dict[str, Any]:
        asked = params.get("protocolVersion")
        if not isinstance(asked, str):
            raise RpcError(INVALID_PARAMS, "initialize needs params.protocolVersion (a string)")
        version = asked if asked in LEGACY_VERSIONS else LEGACY_VERSIONS[-1]
        session.version = version
        if self.verbose:
            info = params.get("clientInfo") or {}
            log(f"initialize from {info.get('name', '?')} {info.get('version', '')}: asked {asked}, using {version}")
        return {
            "protocolVersion": version,
            "capabilities": self.capabilities(),
            "serverInfo": self.server_info(),
            "instructions": INSTRUCTIONS,
        }

    @staticmethod
    def capabilities() -> dict[str, Any]:
        return {"tools": {"listChanged": False}}

    @staticmethod
    def server_info() -> dict[str, Any]:
        return {"name": "help.py", "title": "help.py", "version": __version__}

    def call(self, id_: Any, params: dict[str, Any], version: str, modern: bool, send: Send) -> dict[str, Any] | None:
        name = params.get("name")
        if not isinstance(name, str):
            raise RpcError(INVALID_PARAMS, "tools/call needs params.name (a string)")
        spec = self.tools.get(name)
        if spec is None:
            raise RpcError(INVALID_PARAMS, f"unknown tool: {name}", {"tools": list(self.tools)})
        try:
            words = tools.argv(spec, params.get("arguments"))
        except tools.BadArguments as exc:
            raise RpcError(INVALID_PARAMS, str(exc)) from None
        meta = params.get("_meta")
        token = meta.get("progressToken") if isinstance(meta, dict) else None
        progress = None
        if token is not None and spec.long:

            def progress(step: float, note: str) -> None:
                send(
                    {
                        "jsonrpc": "2.0",
                        "method": "notifications/progress",
                        "params": {"progressToken": token, "progress": step, "message": note},
                    }
                )

        call = tools.Call()
        key = _key(id_)
        with self._lock:
            self.calls[key] = call
        try:
            if self.verbose:
                log(f"tools/call {name}: help.py {' '.join(words)}")
            outcome = call.execute(self.root, words, progress)
        finally:
            with self._lock:
                self.calls.pop(key, None)
        if outcome.cancelled:
            return None  # the client gave up on it: no response is sent
        return tools.result(spec, outcome, wrap_arrays=not modern)


def _valid_id(id_: Any) -> bool:
    return isinstance(id_, str) or (isinstance(id_, int) and not isinstance(id_, bool))


def _key(id_: Any) -> Any:
    return id_ if _valid_id(id_) else repr(id_)
