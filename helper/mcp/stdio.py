"""The stdio transport: one JSON-RPC message per line on stdin/stdout; logs on stderr.

stdout is taken over for the protocol before anything else runs: file
descriptor 1 is pointed at stderr, so a stray print anywhere cannot corrupt
the stream. Tool calls run in threads (they can be cancelled and report
progress while other requests are answered); the rest is answered inline.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from typing import Any, BinaryIO

from helper.mcp.server import INVALID_REQUEST, PARSE_ERROR, RpcError, Server, Session, error, log

DRAIN_SECONDS = 30.0


class Writer:
    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        data = json.dumps(message, separators=(",", ":"), default=str).encode() + b"\n"
        with self.lock:
            try:
                self.stream.write(data)
                self.stream.flush()
            except (BrokenPipeError, ValueError, OSError):
                pass  # the client has gone; the reader sees EOF and ends the loop


def take_stdout() -> BinaryIO:
    """A private handle on the real stdout; fd 1 (and sys.stdout) now lead to stderr."""
    sys.stdout.flush()
    real = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return real


def serve(server: Server, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> int:
    """Serve until stdin closes; returns the exit code."""
    writer = Writer(stdout if stdout is not None else take_stdout())
    source = stdin if stdin is not None else sys.stdin.buffer
    session = Session()
    workers: list[threading.Thread] = []
    if server.verbose:
        log(f"serving {server.root} on stdio ({len(server.tools)} tools)")
    previous = _stop_on_sigterm()
    try:
        _loop(server, source, session, writer, workers)
        for w in workers:  # stdin closed: finish what was asked (bounded), then stop the rest
            w.join(timeout=DRAIN_SECONDS)
    finally:
        for call in list(server.calls.values()):
            call.cancel()  # the client went away: stop what it started
        for w in workers:
            w.join(timeout=5)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0


def _stop_on_sigterm() -> Any:
    """SIGTERM (how a client ends a server) unwinds the loop, so running commands are stopped too."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, frame: Any) -> None:
        raise SystemExit(143)

    return signal.signal(signal.SIGTERM, handler)


def _loop(server: Server, source: BinaryIO, session: Session, writer: Writer, workers: list[threading.Thread]) -> None:
    while True:
        line = source.readline(server.max_bytes + 1)
        if not line:
            break
        if len(line) > server.max_bytes and not line.endswith(b"\n"):
            while True:  # skip the rest of the oversized line
                rest = source.readline(1 << 16)
                if not rest or rest.endswith(b"\n"):
                    break
            writer.send(error(None, INVALID_REQUEST, f"request too large (limit {server.max_bytes} bytes)"))
            continue
        if not line.strip():
            continue
        try:
            message = server.parse(line)
        except RpcError as exc:
            writer.send(error(None, exc.code if exc.code != PARSE_ERROR else PARSE_ERROR, exc.message))
            continue
        if isinstance(message, dict) and message.get("method") == "tools/call" and "id" in message:
            thread = threading.Thread(target=_answer, args=(server, message, session, writer), daemon=True)
            thread.start()
            workers[:] = [w for w in workers if w.is_alive()] + [thread]
            continue
        _answer(server, message, session, writer)


def _answer(server: Server, message: Any, session: Session, writer: Writer) -> None:
    response = server.handle(message, session, writer.send)
    if response is not None:
        writer.send(response)
