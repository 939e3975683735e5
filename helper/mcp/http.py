"""The Streamable HTTP transport: POST /mcp, answered as JSON or as an SSE stream.

Both eras on one endpoint, without protocol sessions: a modern request carries
its version in `_meta` and in the MCP-Protocol-Version header (they must
agree, as must Mcp-Method and Mcp-Name); a legacy client's `initialize` is
answered and later requests are served at the version of their header.
Origins other than loopback ones are refused (DNS rebinding); a bearer token
is required whenever the server listens beyond loopback.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from helper.errors import UsageError
from helper.mcp.server import (
    HEADER_MISMATCH,
    INVALID_REQUEST,
    LEGACY_VERSIONS,
    METHOD_NOT_FOUND,
    UNSUPPORTED_PROTOCOL_VERSION,
    VERSION_KEY,
    RpcError,
    Server,
    Session,
    error,
    log,
)

PATH = "/mcp"
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}


def is_loopback(host: str) -> bool:
    if host.strip("[]") in LOOPBACK_NAMES or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise UsageError(f"bad --http address {text!r}", "give HOST:PORT, e.g. 127.0.0.1:8765 (port 0: any free one)")
    return (host or "127.0.0.1").strip("[]"), int(port)


class Handler(BaseHTTPRequestHandler):
    server: HttpServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.mcp.verbose:
            log("http: " + format % args)

    # -- replies -----------------------------------------------------------
    def _reply(self, status: int, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body, default=str).encode() if body is not None else b""
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _refuse(self, status: int, code: int, message: str, id_: Any = None, data: Any = None) -> None:
        self._reply(status, error(id_, code, message, data))

    def do_GET(self) -> None:
        self._reply(405, None, {"Allow": "POST"})

    do_DELETE = do_GET
    do_PUT = do_GET

    def _allowed(self) -> bool:
        origin = self.headers.get("Origin")
        if origin:
            host = urlsplit(origin).hostname or ""
            if not (is_loopback(host) or origin in self.server.allowed_origins):
                self._refuse(403, INVALID_REQUEST, f"origin not allowed: {origin}")
                return False
        token = self.server.token
        if token:
            given = self.headers.get("Authorization", "")
            if not (given.startswith("Bearer ") and hmac.compare_digest(given[7:].strip(), token)):
                self._reply(
                    401, error(None, INVALID_REQUEST, "a bearer token is required"), {"WWW-Authenticate": "Bearer"}
                )
                return False
        return True

    def do_POST(self) -> None:
        mcp = self.server.mcp
        if urlsplit(self.path).path != PATH:
            self._reply(404, error(None, METHOD_NOT_FOUND, f"no MCP endpoint at {self.path}; use {PATH}"))
            return
        if not self._allowed():
            return
        try:
            length = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            length = -1
        if length < 0 or length > mcp.max_bytes:
            self.close_connection = True
            self._refuse(413, INVALID_REQUEST, f"request too large (limit {mcp.max_bytes} bytes)")
            return
        raw = self.rfile.read(length)
        try:
            message = mcp.parse(raw)
        except RpcError as exc:
            self._refuse(400, exc.code, exc.message)
            return
        if not isinstance(message, dict):
            self._refuse(400, INVALID_REQUEST, "batches are not supported; send one message at a time")
            return
        if "id" not in message:
            if isinstance(message.get("method"), str):
                mcp.handle(message, Session(), lambda _: None)
                self._reply(202)
            else:
                self._reply(202 if "result" in message or "error" in message else 400)
            return
        problem = self._check_headers(message)
        if problem is not None:
            status, code, text, data = problem
            self._refuse(status, code, text, message.get("id"), data)
            return
        session = Session()
        header_version = self.headers.get("MCP-Protocol-Version")
        session.version = header_version if header_version in LEGACY_VERSIONS else "2025-03-26"
        wants_sse = "text/event-stream" in (self.headers.get("Accept") or "")
        if message.get("method") == "tools/call" and wants_sse:
            self._stream(message, session)
            return
        response = mcp.handle(message, session, lambda _: None)
        if response is None:
            self._reply(202)
            return
        status = 200
        if "error" in response:
            code = response["error"]["code"]
            modern = _modern_version(message) is not None
            if code == METHOD_NOT_FOUND and modern:
                status = 404
            elif code in (UNSUPPORTED_PROTOCOL_VERSION, HEADER_MISMATCH):
                status = 400
        self._reply(status, response)

    def _check_headers(self, message: dict[str, Any]) -> tuple[int, int, str, Any] | None:
        """Header/body agreement for a modern request (the headers are what intermediaries route on)."""
        version = _modern_version(message)
        if version is None:
            return None
        header = self.headers.get("MCP-Protocol-Version")
        if header != version:
            return 400, HEADER_MISMATCH, f"Header mismatch: MCP-Protocol-Version {header!r} vs body {version!r}", None
        method = message.get("method")
        if self.headers.get("Mcp-Method") != method:
            return 400, HEADER_MISMATCH, f"Header mismatch: Mcp-Method {self.headers.get('Mcp-Method')!r}", None
        if method == "tools/call":
            name = (message.get("params") or {}).get("name")
            given = self.headers.get("Mcp-Name")
            if given is not None and given.startswith("=?base64?") and given.endswith("?="):
                import base64

                try:
                    given = base64.b64decode(given[9:-2]).decode()
                except ValueError:
                    given = None
            if given != name:
                return 400, HEADER_MISMATCH, f"Header mismatch: Mcp-Name {given!r} vs body {name!r}", None
        return None

    def _stream(self, message: dict[str, Any], session: Session) -> None:
        """Answer as an SSE stream: progress notifications, then the response. A closed stream cancels the call."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Accel-Buffering", "no")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        lock = threading.Lock()
        mcp = self.server.mcp

        def send(event: dict[str, Any]) -> None:
            data = f"event: message\ndata: {json.dumps(event, default=str)}\n\n".encode()
            with lock:
                try:
                    self.wfile.write(data)
                    self.wfile.flush()
                except OSError:  # the client closed the stream: that is the cancellation
                    call = mcp.calls.get(message.get("id"))
                    if call is not None:
                        call.cancel()

        response = mcp.handle(message, session, send)
        if response is not None:
            send(response)


def _modern_version(message: dict[str, Any]) -> str | None:
    params = message.get("params")
    meta = params.get("_meta") if isinstance(params, dict) else None
    if isinstance(meta, dict) and isinstance(meta.get(VERSION_KEY), str):
        return str(meta[VERSION_KEY])
    return None


class HttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], mcp: Server, token: str | None, allowed_origins: set[str]) -> None:
        self.mcp = mcp
        self.token = token
        self.allowed_origins = allowed_origins
        super().__init__(address, Handler)


def make(
    mcp: Server, address: tuple[str, int], token: str | None = None, allowed_origins: set[str] | None = None
) -> HttpServer:
    host = address[0]
    if not is_loopback(host) and not token:
        raise UsageError(
            f"refusing to serve MCP on {host} without a bearer token",
            "pass --token TOKEN (or set HELP_MCP_TOKEN), or bind to 127.0.0.1",
        )
    return HttpServer(address, mcp, token, allowed_origins or set())


def serve(httpd: HttpServer, ready: Any = None) -> int:
    host, port = str(httpd.server_address[0]), int(httpd.server_address[1])
    log(f"serving on http://{host}:{port}{PATH}")
    if ready is not None:
        ready(f"http://{host}:{port}{PATH}")
    try:
        httpd.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
    return 0
