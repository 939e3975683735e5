"""A model server on 127.0.0.1 speaking Ollama's /api/* (NDJSON) and OpenAI's /v1/* (SSE), replaying scripts.

A turn is picked by the role named in the system message (`[role:coder]`),
optionally narrowed by the sub-task (`[subtask:title]`), and by how many
assistant turns the conversation already has: the same request always gets
the same answer, so a resumed task sees the same model.
Faults (die mid-stream, garbage, delay, model not found, out of memory) are
injected per request, matched by role and/or model, a given number of times.
"""

from __future__ import annotations

import json
import re
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Turn:
    content: str = ""
    tool_calls: list[tuple[str, Any]] = field(default_factory=list)  # (name, arguments: dict or raw string)


@dataclass
class Fault:
    kind: str  # die | reset | stall | garbage | delay | notfound | oom | error
    role: str | None = None
    model: str | None = None
    times: int = 1
    seconds: float = 0.0  # for delay (before the answer) and stall (after two lines of it)


ScriptFn = Callable[[list[dict[str, Any]]], Turn]  # a model that answers from what it is shown
Script = dict[str, "list[Turn] | ScriptFn"]

OOM_TEXT = "model requires more system memory (12.5 GiB) than is available (3.1 GiB)"


class FakeModelServer:
    def __init__(self, script: Script | None = None, models: dict[str, int] | None = None) -> None:
        self.script: Script = dict(script or {})
        self.models = dict(models or {"coder:14b": 9_000_000_000, "coder:1b": 1_000_000_000})
        self.faults: list[Fault] = []
        self.requests: list[dict[str, Any]] = []
        self.loaded: set[str] = set()
        self.chunk = 6  # characters per streamed piece
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda request, address: None  # type: ignore[method-assign]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> FakeModelServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- scripting ------------------------------------------------------------
    def turn_for(self, messages: list[dict[str, Any]]) -> tuple[str, Turn]:
        system = str(messages[0].get("content", "")) if messages else ""
        role = (re.search(r"\[role:([\w-]+)\]", system) or [None, "default"])[1]
        sub = re.search(r"\[subtask:([^\]]+)\]", system)
        index = sum(1 for m in messages if m.get("role") == "assistant")
        turns = (sub and self.script.get(f"{role}:{sub[1]}")) or self.script.get(role) or [Turn("ok")]
        if callable(turns):  # a model that answers from what it is shown
            return role, turns(messages)
        return role, turns[min(index, len(turns) - 1)]

    def take_fault(self, role: str, model: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.times <= 0:
                    continue
                if fault.role not in (None, role) or fault.model not in (None, model):
                    continue
                fault.times -= 1
                return fault
        return None

    # -- HTTP -----------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args: Any) -> None:
                pass

            def _body(self) -> dict[str, Any]:
                length = int(self.headers.get("Content-Length") or 0)
                data = json.loads(self.rfile.read(length) or b"{}")
                with server.lock:
                    server.requests.append({"path": self.path, "user_agent": self.headers.get("User-Agent"), **data})
                return data  # type: ignore[no-any-return]

            def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
                raw = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _start_stream(self, content_type: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Connection", "close")
                self.end_headers()

            def do_GET(self) -> None:
                with server.lock:
                    server.requests.append({"path": self.path, "user_agent": self.headers.get("User-Agent")})
                if self.path == "/api/tags":
                    models = [
                        {
                            "name": name,
                            "model": name,
                            "size": size,
                            "digest": "sha256:" + "0" * 64,
                            "details": {"family": "llama", "parameter_size": name.split(":")[-1].upper()},
                        }
                        for name, size in server.models.items()
                    ]
                    self._send(200, {"models": models})
                elif self.path == "/api/ps":
                    loaded = [{"name": n, "model": n, "size_vram": server.models.get(n, 0)} for n in server.loaded]
                    self._send(200, {"models": loaded})
                elif self.path == "/v1/models":
                    self._send(200, {"object": "list", "data": [{"id": n, "object": "model"} for n in server.models]})
                else:
                    self._send(404, b"404 page not found", "text/plain")

            def do_POST(self) -> None:
                body = self._body()
                if self.path == "/api/show":
                    name = body.get("model", "")
                    if name not in server.models:
                        self._send(404, {"error": f"model '{name}' not found"})
                    else:
                        self._send(200, {"details": {"family": "llama"}, "model_info": {"llama.context_length": 8192}})
                elif self.path == "/api/pull":
                    self._pull(body.get("model", ""))
                elif self.path in ("/api/chat", "/api/generate", "/v1/chat/completions"):
                    self._complete(body)
                else:
                    self._send(404, b"404 page not found", "text/plain")

            def _pull(self, name: str) -> None:
                if not name or name.startswith("missing"):
                    self._send(500, {"error": "pull model manifest: file does not exist"})
                    return
                self._start_stream("application/x-ndjson")
                total = 4_000_000
                steps = [{"status": "pulling manifest"}]
                steps += [
                    {"status": "pulling sha256:abc", "digest": "sha256:abc", "total": total, "completed": c}
                    for c in range(0, total + 1, total // 4)
                ]
                steps += [{"status": "verifying sha256 digest"}, {"status": "writing manifest"}, {"status": "success"}]
                for step in steps:
                    self.wfile.write(json.dumps(step).encode() + b"\n")
                    self.wfile.flush()
                server.models[name] = total

            def _complete(self, body: dict[str, Any]) -> None:
                model = body.get("model", "")
                messages = body.get("messages") or [{"role": "user", "content": body.get("prompt", "")}]
                role, turn = server.turn_for(messages)
                openai = self.path.startswith("/v1/")
                fault = server.take_fault(role, model)
                if fault and fault.kind == "delay":
                    time.sleep(fault.seconds)
                if model not in server.models or (fault and fault.kind == "notfound"):
                    error = f"model '{model}' not found"
                    if openai:
                        self._send(404, {"error": {"message": error, "type": "api_error", "code": None}})
                    else:
                        self._send(404, {"error": error})
                    return
                if fault and fault.kind == "oom":
                    self._send(500, {"error": OOM_TEXT} if not openai else {"error": {"message": OOM_TEXT}})
                    return
                if fault and fault.kind == "error":
                    self._send(500, {"error": "llama runner process has terminated: exit status 2"})
                    return
                server.loaded.add(model)
                self._start_stream("text/event-stream" if openai else "application/x-ndjson")
                if fault and fault.kind == "garbage":
                    self.wfile.write(b"<html><body>502 Bad Gateway</body></html>\n")
                    return
                lines = self._sse(model, turn) if openai else self._ndjson(model, turn, self.path == "/api/generate")
                for n, line in enumerate(lines):
                    if fault and fault.kind == "die" and n >= 2:  # the runner crashed: the stream just ends
                        self.wfile.flush()
                        self.connection.shutdown(2)
                        return
                    if fault and fault.kind == "reset" and n >= 2:  # the connection torn down (RST)
                        self.wfile.flush()
                        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        self.connection.close()
                        return
                    if fault and fault.kind == "stall" and n == 2:  # the answer began, then nothing for a while
                        self.wfile.flush()
                        time.sleep(fault.seconds)
                    self.wfile.write(line)
                    self.wfile.flush()

            def _pieces(self, text: str) -> list[str]:
                return [text[i : i + server.chunk] for i in range(0, len(text), server.chunk)]

            def _ndjson(self, model: str, turn: Turn, generate: bool) -> list[bytes]:
                out = []
                stamp = "2026-12-01T00:00:00Z"
                for piece in self._pieces(turn.content):
                    if generate:
                        chunk: dict[str, Any] = {"model": model, "created_at": stamp, "response": piece, "done": False}
                    else:
                        chunk = {
                            "model": model,
                            "created_at": stamp,
                            "message": {"role": "assistant", "content": piece},
                            "done": False,
                        }
                    out.append(json.dumps(chunk).encode() + b"\n")
                if turn.tool_calls and not generate:
                    calls = [{"function": {"name": name, "arguments": args}} for name, args in turn.tool_calls]
                    chunk = {
                        "model": model,
                        "created_at": stamp,
                        "message": {"role": "assistant", "content": "", "tool_calls": calls},
                        "done": False,
                    }
                    out.append(json.dumps(chunk).encode() + b"\n")
                final: dict[str, Any] = {
                    "model": model,
                    "created_at": stamp,
                    "done": True,
                    "done_reason": "stop",
                    "eval_count": len(self._pieces(turn.content)) + 1,
                    "eval_duration": 1000,
                }
                final["response" if generate else "message"] = "" if generate else {"role": "assistant", "content": ""}
                out.append(json.dumps(final).encode() + b"\n")
                return out

            def _sse(self, model: str, turn: Turn) -> list[bytes]:
                def event(delta: dict[str, Any], finish: str | None = None) -> bytes:
                    chunk = {
                        "id": "chatcmpl-1",
                        "object": "chat.completion.chunk",
                        "created": 0,
                        "model": model,
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                    }
                    return b"data: " + json.dumps(chunk).encode() + b"\n\n"

                out = [event({"role": "assistant", "content": ""})]
                out += [event({"content": piece}) for piece in self._pieces(turn.content)]
                for index, (name, args) in enumerate(turn.tool_calls):
                    text = args if isinstance(args, str) else json.dumps(args)
                    out.append(
                        event(
                            {
                                "tool_calls": [
                                    {
                                        "index": index,
                                        "id": f"call_{index}",
                                        "type": "function",
                                        "function": {"name": name, "arguments": ""},
                                    }
                                ]
                            }
                        )
                    )
                    for piece in [text[i : i + 10] for i in range(0, len(text), 10)]:
                        out.append(event({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}))
                out.append(event({}, "tool_calls" if turn.tool_calls else "stop"))
                out.append(b"data: [DONE]\n\n")
                return out

        return Handler
