"""The model clients against a server on loopback speaking Ollama's and OpenAI's wire protocols."""

from __future__ import annotations

import pytest

from plugins.agent import client as c
from tests.agent.fakeserver import FakeModelServer, Fault, Turn

SCRIPT = {"coder": [Turn("let me look", [("read_file", {"path": "app.py"})]), Turn("all done")]}
SYSTEM = {"role": "system", "content": "[role:coder] you write code"}


@pytest.fixture
def server():
    with FakeModelServer(SCRIPT) as fake:
        yield fake


@pytest.mark.parametrize("api", ["ollama", "openai"])
def test_chat_streams_text_and_tool_calls(server, api):
    client = c.connect(server.url, api)
    pieces: list[str] = []
    reply = client.chat("coder:14b", [SYSTEM, {"role": "user", "content": "fix it"}], tools=[], on_token=pieces.append)
    assert reply.content == "let me look"
    assert len(pieces) > 1  # streamed, not one block
    assert [(t.name, t.arguments) for t in reply.tool_calls] == [("read_file", {"path": "app.py"})]
    assert reply.tokens > 0


def test_auto_detects_the_protocol(server):
    assert isinstance(c.connect(server.url, "auto"), c.Ollama)


def test_openai_arguments_that_are_not_json_are_flagged(server):
    server.script["coder"] = [Turn("", [("write_file", '{"path": "a.py", "content": ')])]
    reply = c.connect(server.url, "openai").chat("coder:14b", [SYSTEM])
    assert reply.tool_calls[0].arguments is None
    assert "not valid JSON" in (reply.tool_calls[0].error or "")


def test_generate_models_show_ps_and_pull(server):
    client = c.connect(server.url, "ollama")
    assert isinstance(client, c.Ollama)
    assert client.generate("coder:1b", "[role:coder] hi").content == "let me look"
    names = {m.name: m for m in client.models()}
    assert names["coder:14b"].size == 9_000_000_000 and names["coder:1b"].loaded
    assert client.context_length("coder:14b") == 8192
    progress: list[tuple[str, int, int]] = []
    assert client.pull("tiny:0.5b", lambda s, done, total: progress.append((s, done, total))) == "success"
    assert any(total and done == total for _, done, total in progress)
    assert "tiny:0.5b" in {m.name for m in client.models()}
    with pytest.raises(c.ModelError):
        client.pull("missing:1b")


@pytest.mark.parametrize("api", ["ollama", "openai"])
def test_errors_are_typed(server, api):
    client = c.connect(server.url, api)
    client.attempts = 1
    with pytest.raises(c.ModelNotFound, match="not found"):
        client.chat("nope:7b", [SYSTEM])
    server.faults.append(Fault("oom"))
    with pytest.raises(c.OutOfMemory):
        client.chat("coder:14b", [SYSTEM])
    server.faults.append(Fault("garbage"))
    with pytest.raises(c.BadResponse):
        client.chat("coder:14b", [SYSTEM])
    server.faults.append(Fault("die"))
    with pytest.raises(c.StreamBroken):
        client.chat("coder:14b", [SYSTEM])


def test_retries_a_broken_stream_then_succeeds(server):
    client = c.connect(server.url, "openai")
    server.faults += [Fault("die"), Fault("garbage")]
    assert client.chat("coder:14b", [SYSTEM]).content == "let me look"
    assert client.retries == 2


def test_slow_server_times_out_and_unreachable_is_clear(server):
    client = c.Ollama(server.url, timeout=0.3, attempts=1)
    server.faults.append(Fault("delay", seconds=1.0))
    with pytest.raises(c.ServerTimeout):
        client.chat("coder:14b", [SYSTEM])
    dead = c.Ollama("http://127.0.0.1:9", attempts=1)
    with pytest.raises(c.ServerUnavailable, match="cannot reach"):
        dead.chat("coder:14b", [SYSTEM])


def test_breaker_opens_on_a_failing_server(server):
    client = c.Ollama(server.url, attempts=1)
    client.breaker.threshold = 2
    server.faults.append(Fault("error", times=5))
    for _ in range(2):
        with pytest.raises(c.ServerUnavailable):
            client.chat("coder:14b", [SYSTEM])
    with pytest.raises(c.ServerUnavailable, match="is failing"):
        client.chat("coder:14b", [SYSTEM])
    assert server.faults[0].times == 3  # the open circuit spared the server
