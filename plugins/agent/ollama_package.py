"""The Ollama API through the `ollama` Python package (httpx), raising the stdlib client's errors.

Imported only when `agent.client` picks it (`auto` with the package installed,
or `ollama`): importing this module imports the package. Every failure the
package or httpx raises becomes the same typed ModelError the stdlib client
(plugins.agent.client.Ollama) raises for the same answer on the wire, so
retries, fallback to a smaller model and the circuit breaker behave alike.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from importlib import metadata
from typing import Any

import httpx
import ollama

from plugins.agent.client import (
    BadResponse,
    Gathered,
    Ollama,
    OnToken,
    Reply,
    ServerTimeout,
    ServerUnavailable,
    StreamBroken,
    _classify,
    _ollama_messages,
)

# What the package raises when it cannot make sense of an answer: json.JSONDecodeError and pydantic's
# ValidationError are ValueErrors; a JSON value that is not an object fails on `.get` or `cls(**part)`.
GARBAGE = (ValueError, TypeError, AttributeError)


def version() -> str:
    try:
        return metadata.version("ollama")
    except metadata.PackageNotFoundError:
        return getattr(ollama, "__version__", "?")


def _plain(value: Any) -> Any:
    """A response model (ollama >= 0.4) or a dict (0.3) as plain JSON data."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    return value


class OllamaPackage(Ollama):
    """Ollama's /api/* spoken by `ollama.Client`; retries and the breaker are the shared Client's."""

    implementation = "ollama"

    def __init__(self, server: str, **kwargs: Any) -> None:
        super().__init__(server, **kwargs)
        self._local = threading.local()  # per thread: did the current request get its response headers?
        url = server if "//" in server else "http://" + server
        self._api = ollama.Client(host=url, timeout=self.timeout, event_hooks={"response": [self._answered]})

    @property
    def via(self) -> str:
        return f"the ollama package {version()} (httpx {httpx.__version__})"

    def _answered(self, response: Any) -> None:
        self._local.answered = True

    # -- errors ------------------------------------------------------------------
    @contextlib.contextmanager
    def _errors(self, model: str, what: str) -> Iterator[None]:
        """Translate what the package and httpx raise into the stdlib client's ModelErrors."""
        try:
            yield
        except ollama.ResponseError as exc:
            status = exc.status_code if exc.status_code > 0 else 500  # -1: an error object inside the stream
            raise _classify(status, json.dumps({"error": str(exc.error)}), model) from None
        except httpx.TimeoutException:
            if not getattr(self._local, "answered", False):
                raise ServerTimeout(
                    f"model server {self.server} gave no answer in {self.timeout:g}s", "raise agent.timeout"
                ) from None
            raise ServerTimeout(f"model server {self.server} stalled mid-stream", "raise agent.timeout") from None
        except (httpx.TransportError, ConnectionError) as exc:
            if not getattr(self._local, "answered", False):
                cause = exc.__context__ if isinstance(exc.__context__, httpx.HTTPError) else exc
                raise ServerUnavailable(
                    f"cannot reach the model server at {self.server}: {cause}",
                    "start it (ollama serve) or set agent.server",
                ) from None
            raise StreamBroken(f"model server stream broke: {exc}", "retry; check the server") from None
        except json.JSONDecodeError as exc:
            raise BadResponse(
                f"model server sent a line that is not JSON: {exc.doc.encode()[:80]!r}", "check agent.api"
            ) from None
        except GARBAGE as exc:
            raise BadResponse(
                f"model server sent an answer that is not Ollama's for {what}: {exc}", "check agent.api"
            ) from None

    def _request(self, model: str, what: str, fn: Callable[[], Any]) -> Any:
        self._local.answered = False
        with self._errors(model, what):
            return fn()

    def _each(self, model: str, what: str, start: Callable[[], Iterator[Any]]) -> Iterator[Any]:
        """The parts of a streamed answer, each read under the error translation."""
        self._local.answered = False
        with self._errors(model, what):
            parts = start()
        try:
            while True:
                with self._errors(model, what):
                    try:
                        part = next(parts)
                    except StopIteration:
                        return
                yield part
        finally:  # a reader that stops at `done` closes the stream (and its connection) now
            close = getattr(parts, "close", None)
            if close is not None:
                with self._errors(model, what):
                    close()

    # -- protocol ----------------------------------------------------------------
    def _chat(
        self, model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, on_token: OnToken | None
    ) -> Reply:
        def start() -> Iterator[Any]:
            return iter(
                self._api.chat(model=model, messages=_ollama_messages(messages), tools=tools or None, stream=True)
            )

        return self._collect(self._each(model, "/api/chat", start), model, on_token, "message")

    def generate(self, model: str, prompt: str, on_token: OnToken | None = None) -> Reply:
        def once() -> Reply:
            def start() -> Iterator[Any]:
                return iter(self._api.generate(model=model, prompt=prompt, stream=True))

            return self._collect(self._each(model, "/api/generate", start), model, on_token, "response")

        return self.call(once)  # type: ignore[no-any-return]

    def _collect(self, parts: Iterator[Any], model: str, on_token: OnToken | None, field: str) -> Reply:
        gathered = Gathered(on_token)
        try:
            for part in parts:
                chunk = _plain(part)
                message = (chunk.get("message") or {}) if field == "message" else {"content": chunk.get("response")}
                if gathered.take(chunk, message):
                    break
        finally:
            getattr(parts, "close", lambda: None)()
        return gathered.reply(model)

    def _tags(self) -> dict[str, Any]:
        data = _plain(self._request("", "/api/tags", self._api.list))
        # ollama >= 0.4 names a model `model` (the server sends both `name` and `model`)
        for entry in data.get("models", []):
            entry.setdefault("name", entry.get("model", ""))
        return data  # type: ignore[no-any-return]

    def show(self, name: str) -> dict[str, Any]:
        return _plain(self._request(name, "/api/show", lambda: self._api.show(name)))  # type: ignore[no-any-return]

    def ps(self) -> list[dict[str, Any]]:
        models = _plain(self._request("", "/api/ps", self._api.ps)).get("models", [])
        for entry in models:
            entry.setdefault("name", entry.get("model", ""))
        return list(models)

    def pull(self, name: str, on_progress: Callable[[str, int, int], None] | None = None) -> str:
        """Pull `name`, reporting (status, completed, total); the last status ('success')."""
        status = ""
        for part in self._each(name, "/api/pull", lambda: iter(self._api.pull(name, stream=True))):
            chunk = _plain(part)
            status = str(chunk.get("status", ""))
            if on_progress:
                on_progress(status, int(chunk.get("completed") or 0), int(chunk.get("total") or 0))
        if status != "success":
            raise StreamBroken(f"pull of {name} ended at '{status}'", "run `help.py agent pull` again")
        return status
