"""Model servers over HTTP: Ollama's /api/* (NDJSON streams) and OpenAI's /v1/chat/completions (SSE).

Stdlib http.client here. Every failure is a typed ModelError; calls go through
the core's retry (backoff) and a circuit breaker per server. The Ollama API can
also be spoken through the `ollama` package (plugins.agent.ollama_package),
chosen by `agent.client`: `auto` (the package when it imports), `ollama` or
`stdlib`; the package is imported only when that choice is made.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from helper.errors import HelpError
from helper.retry import CircuitBreaker, CircuitOpen, retry


class ModelError(HelpError):
    """The model server failed; `retryable` says whether trying again may help."""

    retryable = False


class ModelNotFound(ModelError):
    pass


class OutOfMemory(ModelError):
    pass


class BadResponse(ModelError):
    retryable = True


class StreamBroken(ModelError):
    retryable = True


class ServerTimeout(ModelError):
    retryable = True


class ServerUnavailable(ModelError):
    retryable = True


@dataclass
class ToolCall:
    name: str
    arguments: dict[str, Any] | None  # None when the model's arguments were not a JSON object
    id: str = ""
    raw: str = ""  # the arguments as the model sent them
    error: str | None = None  # why the call is malformed


@dataclass
class Reply:
    content: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    model: str = ""
    tokens: int = 0
    duration: float = 0.0

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.duration if self.duration > 0 else 0.0


@dataclass
class ModelInfo:
    name: str
    size: int = 0  # bytes on disk (or in memory for `ps`)
    family: str = ""
    parameters: str = ""
    context: int | None = None
    loaded: bool = False


OnToken = Callable[[str], None]


def _classify(status: int, body: str, model: str) -> ModelError:
    try:
        message = str(json.loads(body).get("error", body))
    except (ValueError, AttributeError):
        message = body.strip()[:200]
    if isinstance(message, dict):  # OpenAI: {"error": {"message": ...}}
        message = str(message.get("message", message))
    lowered = message.lower()
    hint = "`help.py agent models` lists the installed models; `help.py agent pull NAME` fetches one"
    if status == 404 or "not found" in lowered:
        return ModelNotFound(f"model server: {message or 'model ' + model + ' not found'}", hint)
    if "memory" in lowered or "oom" in lowered:
        return OutOfMemory(f"model server out of memory for {model}: {message}", "use a smaller model (agent.fallback)")
    if status >= 500:
        error: ModelError = ServerUnavailable(f"model server error {status}: {message}", "check the server's log")
        return error
    return BadResponse(f"model server answered {status}: {message}", "check agent.server and agent.api")


class Client:
    """Shared HTTP plumbing; subclasses speak one protocol."""

    api = ""
    implementation = "stdlib"

    def __init__(
        self, server: str, *, timeout: float = 120.0, attempts: int = 3, breaker: CircuitBreaker | None = None
    ) -> None:
        parsed = urllib.parse.urlsplit(server if "//" in server else "http://" + server)
        self.server = server
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or (443 if parsed.scheme == "https" else 80)
        self.https = parsed.scheme == "https"
        self.base = parsed.path.rstrip("/")
        self.timeout = timeout
        self.attempts = attempts
        self.breaker = breaker or CircuitBreaker(threshold=5, reset_after=30.0)
        self.retries = 0

    @property
    def via(self) -> str:
        """Which client speaks to the server, for `agent models` and the doctor."""
        return "the stdlib HTTP client (http.client)"

    # -- transport ---------------------------------------------------------
    def _connect(self) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
        return cls(self.host, self.port, timeout=self.timeout)

    def _open(self, method: str, path: str, body: Any, model: str) -> tuple[http.client.HTTPConnection, Any]:
        conn = self._connect()
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        try:
            conn.request(method, self.base + path, body=data, headers=headers)
            response = conn.getresponse()
        except TimeoutError:
            conn.close()
            raise ServerTimeout(
                f"model server {self.server} gave no answer in {self.timeout:g}s", "raise agent.timeout"
            ) from None
        except (ConnectionError, OSError, http.client.HTTPException) as exc:
            conn.close()
            raise ServerUnavailable(
                f"cannot reach the model server at {self.server}: {exc}", "start it (ollama serve) or set agent.server"
            ) from None
        if response.status >= 400:
            text = self._read_all(response).decode(errors="replace")
            conn.close()
            raise _classify(response.status, text, model)
        return conn, response

    def _read_all(self, response: Any) -> bytes:
        try:
            return bytes(response.read())
        except TimeoutError:
            raise ServerTimeout(f"model server {self.server} stopped answering", "raise agent.timeout") from None
        except (http.client.IncompleteRead, ConnectionError, OSError) as exc:
            raise StreamBroken(
                f"model server closed the connection mid-answer: {exc}", "retry; check the server"
            ) from None

    def _json(self, method: str, path: str, body: Any = None, model: str = "") -> Any:
        conn, response = self._open(method, path, body, model)
        try:
            raw = self._read_all(response)
        finally:
            conn.close()
        try:
            return json.loads(raw)
        except ValueError:
            raise BadResponse(f"model server sent non-JSON for {path}: {raw[:80]!r}", "check agent.api") from None

    def _lines(self, response: Any) -> Iterator[bytes]:
        while True:
            try:
                line = response.readline()
            except TimeoutError:
                raise ServerTimeout(f"model server {self.server} stalled mid-stream", "raise agent.timeout") from None
            except (http.client.IncompleteRead, ConnectionError, OSError) as exc:
                raise StreamBroken(f"model server stream broke: {exc}", "retry; check the server") from None
            if not line:
                return
            yield line

    def call(self, fn: Callable[[], Any]) -> Any:
        """`fn` through the breaker, retried with backoff while the error is retryable."""

        def once() -> Any:
            try:
                return self.breaker.call(fn)
            except CircuitOpen as exc:
                raise ServerUnavailable(f"model server {self.server} is failing: {exc}", "wait, then resume") from None

        def on_retry(n: int, exc: BaseException, delay: float) -> None:
            self.retries += 1

        retryable = (BadResponse, StreamBroken, ServerTimeout, ServerUnavailable)
        return retry(once, attempts=self.attempts, base=0.05, cap=2.0, retry_on=retryable, on_retry=on_retry)

    # -- protocol (subclasses) -----------------------------------------------
    def chat(
        self,
        model: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        on_token: OnToken | None = None,
    ) -> Reply:
        return self.call(lambda: self._chat(model, messages, tools, on_token))  # type: ignore[no-any-return]

    def _chat(
        self, model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, on_token: OnToken | None
    ) -> Reply:
        raise NotImplementedError

    def models(self) -> list[ModelInfo]:
        raise NotImplementedError


def _parse_arguments(raw: Any) -> tuple[dict[str, Any] | None, str, str | None]:
    """(arguments, raw text, error) from an object (Ollama) or a JSON string (OpenAI)."""
    if isinstance(raw, dict):
        return raw, json.dumps(raw), None
    text = raw if isinstance(raw, str) else json.dumps(raw)
    try:
        value = json.loads(text) if text.strip() else {}
    except ValueError as exc:
        return None, text, f"arguments are not valid JSON: {exc}"
    if not isinstance(value, dict):
        return None, text, "arguments must be a JSON object"
    return value, text, None


class Ollama(Client):
    api = "ollama"

    def _chat(
        self, model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, on_token: OnToken | None
    ) -> Reply:
        body: dict[str, Any] = {"model": model, "messages": _ollama_messages(messages), "stream": True}
        if tools:
            body["tools"] = tools
        return self._stream("/api/chat", body, model, on_token, lambda c: c.get("message") or {})

    def generate(self, model: str, prompt: str, on_token: OnToken | None = None) -> Reply:
        body = {"model": model, "prompt": prompt, "stream": True}
        return self.call(  # type: ignore[no-any-return]
            lambda: self._stream("/api/generate", body, model, on_token, lambda c: {"content": c.get("response", "")})
        )

    def _stream(
        self, path: str, body: dict[str, Any], model: str, on_token: OnToken | None, part: Callable[[Any], Any]
    ) -> Reply:
        gathered = Gathered(on_token)
        conn, response = self._open("POST", path, body, model)
        try:
            for line in self._lines(response):
                if not line.strip():
                    continue
                try:
                    chunk = json.loads(line)
                except ValueError:
                    raise BadResponse(
                        f"model server sent a line that is not JSON: {line[:80]!r}", "check agent.api"
                    ) from None
                if not isinstance(chunk, dict):
                    raise BadResponse(f"model server sent {line[:80]!r}", "check agent.api")
                if "error" in chunk:
                    raise _classify(500, json.dumps(chunk), model)
                if gathered.take(chunk, part(chunk)):
                    break
        finally:
            conn.close()
        return gathered.reply(model)

    def _tags(self) -> dict[str, Any]:
        return self._json("GET", "/api/tags")  # type: ignore[no-any-return]

    def models(self) -> list[ModelInfo]:
        data = self._tags()
        loaded = {m.get("name") for m in self.ps()}
        found = []
        for entry in data.get("models", []):
            details = entry.get("details") or {}
            found.append(
                ModelInfo(
                    name=entry.get("name", ""),
                    size=int(entry.get("size") or 0),
                    family=details.get("family", ""),
                    parameters=details.get("parameter_size", ""),
                    loaded=entry.get("name") in loaded,
                )
            )
        return found

    def show(self, name: str) -> dict[str, Any]:
        return self._json("POST", "/api/show", {"model": name}, name)  # type: ignore[no-any-return]

    def context_length(self, name: str) -> int | None:
        info = self.show(name).get("model_info") or {}
        for key, value in info.items():
            if key.endswith(".context_length"):
                return int(value)
        return None

    def ps(self) -> list[dict[str, Any]]:
        return list(self._json("GET", "/api/ps").get("models", []))

    def pull(self, name: str, on_progress: Callable[[str, int, int], None] | None = None) -> str:
        """Pull `name`, reporting (status, completed, total); the last status ('success')."""
        conn, response = self._open("POST", "/api/pull", {"model": name, "stream": True}, name)
        status = ""
        try:
            for line in self._lines(response):
                try:
                    chunk = json.loads(line)
                except ValueError:
                    raise BadResponse(f"model server sent {line[:80]!r} while pulling", "retry") from None
                if "error" in chunk:
                    raise _classify(500, json.dumps(chunk), name)
                status = str(chunk.get("status", ""))
                if on_progress:
                    on_progress(status, int(chunk.get("completed") or 0), int(chunk.get("total") or 0))
        finally:
            conn.close()
        if status != "success":
            raise StreamBroken(f"pull of {name} ended at '{status}'", "run `help.py agent pull` again")
        return status


def _ollama_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ollama wants tool-call arguments as objects and no tool_call_id."""
    out = []
    for message in messages:
        message = dict(message)
        if message.get("tool_calls"):
            message["tool_calls"] = [
                {"function": {"name": c["function"]["name"], "arguments": _as_object(c["function"]["arguments"])}}
                for c in message["tool_calls"]
            ]
        message.pop("tool_call_id", None)
        if message.get("role") == "tool" and message.get("name"):
            message.setdefault("tool_name", message["name"])  # Ollama's name for the tool a result is from
        out.append(message)
    return out


def _as_object(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return {}
    return raw


class OpenAI(Client):
    api = "openai"

    def _chat(
        self, model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, on_token: OnToken | None
    ) -> Reply:
        started = time.monotonic()
        body: dict[str, Any] = {"model": model, "messages": _openai_messages(messages), "stream": True}
        if tools:
            body["tools"] = tools
        conn, response = self._open("POST", "/v1/chat/completions", body, model)
        text: list[str] = []
        pending: dict[int, dict[str, str]] = {}
        tokens = 0
        done = False
        try:
            for line in self._lines(response):
                line = line.strip()
                if not line or line.startswith(b":"):
                    continue
                if not line.startswith(b"data:"):
                    raise BadResponse(f"model server sent a line that is not SSE: {line[:80]!r}", "check agent.api")
                payload = line[5:].strip()
                if payload == b"[DONE]":
                    done = True
                    break
                try:
                    chunk = json.loads(payload)
                except ValueError:
                    raise BadResponse(
                        f"model server sent an event that is not JSON: {payload[:80]!r}", "check agent.api"
                    ) from None
                if "error" in chunk:
                    raise _classify(500, json.dumps(chunk), model)
                for choice in chunk.get("choices") or []:
                    delta = choice.get("delta") or {}
                    piece = delta.get("content") or ""
                    if piece:
                        text.append(piece)
                        tokens += 1
                        if on_token:
                            on_token(piece)
                    for call in delta.get("tool_calls") or []:
                        slot = pending.setdefault(int(call.get("index", 0)), {"id": "", "name": "", "arguments": ""})
                        function = call.get("function") or {}
                        slot["id"] = call.get("id") or slot["id"]
                        slot["name"] += function.get("name") or ""
                        slot["arguments"] += function.get("arguments") or ""
                usage = chunk.get("usage") or {}
                tokens = int(usage.get("completion_tokens") or tokens)
        finally:
            conn.close()
        if not done:
            raise StreamBroken("model server ended the stream before [DONE]", "retry; check the server's log")
        calls = []
        for index in sorted(pending):
            slot = pending[index]
            args, raw, error = _parse_arguments(slot["arguments"])
            calls.append(ToolCall(slot["name"], args, slot["id"], raw, error))
        return Reply("".join(text), calls, model, tokens, time.monotonic() - started)

    def models(self) -> list[ModelInfo]:
        data = self._json("GET", "/v1/models")
        return [ModelInfo(name=str(m.get("id", ""))) for m in data.get("data", [])]


def _openai_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for message in messages:
        message = dict(message)
        if message.get("tool_calls"):
            message["tool_calls"] = [
                {
                    "id": c.get("id") or f"call_{i}",
                    "type": "function",
                    "function": {
                        "name": c["function"]["name"],
                        "arguments": c["function"]["arguments"]
                        if isinstance(c["function"]["arguments"], str)
                        else json.dumps(c["function"]["arguments"]),
                    },
                }
                for i, c in enumerate(message["tool_calls"])
            ]
        out.append(message)
    return out


CLIENTS = ("auto", "ollama", "stdlib")


def package_found() -> bool:
    """Whether the `ollama` package is installed (found, not imported)."""
    return importlib.util.find_spec("ollama") is not None


def ollama_class(choice: str = "auto") -> type[Ollama]:
    """The class that speaks the Ollama API for `agent.client = choice` (imports the package only for it)."""
    if choice not in CLIENTS:
        raise HelpError(f"agent.client is '{choice}'", f"use one of {', '.join(CLIENTS)}")
    if choice == "stdlib" or (choice == "auto" and not package_found()):
        return Ollama
    try:
        from plugins.agent.ollama_package import OllamaPackage
    except ImportError as exc:
        if choice == "ollama":
            raise HelpError(
                f"agent.client is 'ollama' but the ollama package cannot be imported: {exc}",
                "pip install ollama (or help.py install --optional ollama), or set agent.client = auto",
            ) from None
        return Ollama  # auto: a broken install falls back to the stdlib client
    return OllamaPackage


def connect(
    server: str, api: str = "auto", *, timeout: float = 120.0, attempts: int = 3, client: str = "auto"
) -> Client:
    """A client for `server`; `auto` asks /api/tags (Ollama) and falls back to OpenAI's protocol.

    `client` picks who speaks the Ollama API (see ollama_class); OpenAI's protocol is always the stdlib client's.
    """
    if api == "ollama":
        return ollama_class(client)(server, timeout=timeout, attempts=attempts)
    if api == "openai":
        return OpenAI(server, timeout=timeout, attempts=attempts)
    probe = Ollama(server, timeout=min(timeout, 10.0), attempts=1)
    try:
        data = probe._json("GET", "/api/tags")
        if isinstance(data, dict) and "models" in data:
            return ollama_class(client)(server, timeout=timeout, attempts=attempts)
    except ServerUnavailable:
        raise
    except ModelError:
        pass
    return OpenAI(server, timeout=timeout, attempts=attempts)


class Gathered:
    """An Ollama stream's chunks gathered into one Reply: text, tool calls, tokens; for every client."""

    def __init__(self, on_token: OnToken | None) -> None:
        self.started = time.monotonic()
        self.on_token = on_token
        self.text: list[str] = []
        self.calls: list[ToolCall] = []
        self.tokens = 0
        self.done = False

    def take(self, chunk: dict[str, Any], message: dict[str, Any]) -> bool:
        """Add one chunk (and its message part); True once the stream says it is done."""
        piece = message.get("content") or ""
        if piece:
            self.text.append(piece)
            self.tokens += 1
            if self.on_token:
                self.on_token(piece)
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            args, raw, error = _parse_arguments(function.get("arguments", {}))
            self.calls.append(ToolCall(str(function.get("name", "")), args, str(call.get("id", "")), raw, error))
        if chunk.get("done"):
            self.tokens = int(chunk.get("eval_count") or self.tokens)
            self.done = True
        return self.done

    def reply(self, model: str) -> Reply:
        if not self.done:
            raise StreamBroken("model server ended the stream before `done`", "retry; check the server's log")
        return Reply("".join(self.text), self.calls, model, self.tokens, time.monotonic() - self.started)
