"""The model clients against a server on loopback speaking Ollama's and OpenAI's wire protocols.

The Ollama API's tests run twice, through the stdlib client and through the
real `ollama` package (agent.client = stdlib | ollama): the same answers on the
wire must give the same replies and the same typed errors.
"""

from __future__ import annotations

import copy
import re
import subprocess
import sys

import pytest

from plugins.agent import client as c
from plugins.agent import tools
from tests.agent.conftest import need_package
from tests.agent.fakeserver import FakeModelServer, Fault, Turn
from tests.conftest import ROOT, clean_env

SCRIPT = {"coder": [Turn("let me look", [("read_file", {"path": "app.py"})]), Turn("all done")]}
SYSTEM = {"role": "system", "content": "[role:coder] you write code"}
CLIENTS = ["stdlib", "ollama"]


@pytest.fixture
def server():
    with FakeModelServer(SCRIPT) as fake:
        yield fake


@pytest.fixture(params=CLIENTS)
def impl(request):
    """Who speaks the Ollama API: the stdlib client, or the `ollama` package (required in CI)."""
    if request.param == "ollama":
        need_package("ollama", "pip install ollama (it is in the dev extra)")
    return request.param


def ollama_client(server: FakeModelServer, impl: str, **options: float) -> c.Ollama:
    client = c.connect(server.url, "ollama", client=impl, **options)  # type: ignore[arg-type]
    assert isinstance(client, c.Ollama) and client.implementation == impl
    if impl == "ollama":
        from plugins.agent.ollama_package import OllamaPackage

        assert isinstance(client, OllamaPackage) and "the ollama package" in client.via
    return client


def test_chat_streams_text_and_tool_calls(server, impl):
    client = ollama_client(server, impl)
    pieces: list[str] = []
    reply = client.chat("coder:14b", [SYSTEM, {"role": "user", "content": "fix it"}], tools=[], on_token=pieces.append)
    assert reply.content == "let me look"
    assert pieces == ["let me", " look"]  # streamed piece by piece, as the server sent them
    assert [(t.name, t.arguments) for t in reply.tool_calls] == [("read_file", {"path": "app.py"})]
    assert reply.tokens == 3  # the server's eval_count
    second = client.chat("coder:14b", [SYSTEM, {"role": "assistant", "content": "let me look"}])
    assert second.content == "all done" and second.tool_calls == []


def test_openai_chat_streams_text_and_tool_calls(server):
    client = c.connect(server.url, "openai")
    pieces: list[str] = []
    reply = client.chat("coder:14b", [SYSTEM, {"role": "user", "content": "fix it"}], tools=[], on_token=pieces.append)
    assert reply.content == "let me look" and len(pieces) > 1
    assert [(t.name, t.arguments) for t in reply.tool_calls] == [("read_file", {"path": "app.py"})]


def test_both_clients_put_the_same_request_on_the_wire(server):
    need_package("ollama", "pip install ollama (it is in the dev extra)")
    messages = [
        SYSTEM,
        {"role": "user", "content": "fix it"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"id": "call_0", "type": "function", "function": {"name": "read_file", "arguments": '{"path": "a.py"}'}}
            ],
        },
        {"role": "tool", "content": "x = 1\n", "tool_call_id": "call_0", "name": "read_file"},
    ]
    schemas = tools.schemas(("read_file", "write_file", "finish"))
    bodies = []
    for impl in CLIENTS:
        ollama_client(server, impl).chat("coder:14b", copy.deepcopy(messages), tools=schemas)
        bodies.append(server.requests[-1])
    stdlib, package = bodies
    assert stdlib["path"] == package["path"] == "/api/chat"
    assert stdlib["tools"] == package["tools"] == schemas and stdlib["stream"] is package["stream"] is True
    assert package["messages"][2]["tool_calls"] == [{"function": {"name": "read_file", "arguments": {"path": "a.py"}}}]
    assert package["messages"][3] == {"role": "tool", "content": "x = 1\n", "tool_name": "read_file"}

    def meaning(message):  # what Ollama reads: no empty fields; `name` is not Ollama's (tool_name is)
        return {k: v for k, v in message.items() if v and k != "name"}

    assert [meaning(m) for m in stdlib["messages"]] == [meaning(m) for m in package["messages"]]


def test_auto_detects_the_protocol_and_picks_the_package_when_it_imports(server):
    assert isinstance(c.connect(server.url, "auto", client="stdlib"), c.Ollama)
    assert c.connect(server.url, "auto", client="stdlib").implementation == "stdlib"
    assert isinstance(c.connect(server.url, "openai", client="ollama"), c.OpenAI)  # the package is Ollama's only
    found = c.package_found()
    assert c.connect(server.url, "auto").implementation == ("ollama" if found else "stdlib")
    with pytest.raises(c.HelpError, match=r"agent\.client is 'httpx'"):
        c.connect(server.url, "ollama", client="httpx")


def test_forcing_the_package_without_it_is_a_clear_error(tmp_path):
    """agent.client = ollama in an interpreter without site-packages: a HelpError naming the fix, not a traceback."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from plugins.agent import client as c\n"
        "assert not c.package_found()\n"
        "assert c.ollama_class('auto') is c.Ollama\n"
        "try:\n"
        "    c.connect('http://127.0.0.1:9', 'ollama', client='ollama')\n"
        "except c.HelpError as exc:\n"
        "    print(exc.message, '|', exc.hint)\n"
        "from plugins.agent.health import client_check\n"
        "for choice in ('ollama', 'auto', 'stdlib'):\n"
        "    check = client_check(choice)\n"
        "    print(choice, check.status, check.detail)\n"
    )
    done = subprocess.run(
        [sys.executable, "-S", "-c", code, str(ROOT)], capture_output=True, text=True, env=clean_env(), cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "agent.client is 'ollama' but the ollama package cannot be imported" in done.stdout
    assert "pip install ollama" in done.stdout
    # the doctor says so too: a failing check when forced, the stdlib client named otherwise
    assert "ollama fail agent.client = ollama but the ollama package is not installed" in done.stdout
    assert "auto ok Ollama API through the stdlib HTTP client (agent.client = auto;" in done.stdout
    assert "stdlib ok Ollama API through the stdlib HTTP client: agent.client = stdlib" in done.stdout


def test_the_package_is_imported_only_on_use(tmp_path, server):
    need_package("ollama", "pip install ollama (it is in the dev extra)")
    code = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from plugins.agent import client as c\n"
        "c.connect(sys.argv[2], 'ollama', client='stdlib').models()\n"
        "c.connect(sys.argv[2], 'openai', client='auto').models()\n"
        "assert 'ollama' not in sys.modules and 'httpx' not in sys.modules, 'imported before use'\n"
        "c.connect(sys.argv[2], 'ollama', client='auto').models()\n"
        "assert 'ollama' in sys.modules\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(ROOT), server.url], capture_output=True, text=True, env=clean_env()
    )
    assert done.returncode == 0, done.stderr


def test_openai_arguments_that_are_not_json_are_flagged(server):
    server.script["coder"] = [Turn("", [("write_file", '{"path": "a.py", "content": ')])]
    reply = c.connect(server.url, "openai").chat("coder:14b", [SYSTEM])
    assert reply.tool_calls[0].arguments is None
    assert "not valid JSON" in (reply.tool_calls[0].error or "")


def test_generate_models_show_ps_and_pull(server, impl):
    client = ollama_client(server, impl)
    pieces: list[str] = []
    assert client.generate("coder:1b", "[role:coder] hi", pieces.append).content == "let me look"
    assert pieces == ["let me", " look"]
    names = {m.name: m for m in client.models()}
    assert set(names) == {"coder:14b", "coder:1b"}
    assert names["coder:14b"].size == 9_000_000_000 and names["coder:14b"].family == "llama"
    assert names["coder:14b"].parameters == "14B"
    assert names["coder:1b"].loaded and not names["coder:14b"].loaded
    assert [(m["name"], m["size_vram"]) for m in client.ps()] == [("coder:1b", 1_000_000_000)]
    assert client.show("coder:14b")["model_info"] == {"llama.context_length": 8192}
    assert client.context_length("coder:14b") == 8192
    with pytest.raises(c.ModelNotFound, match="model 'nope:7b' not found"):
        client.show("nope:7b")
    progress: list[tuple[str, int, int]] = []
    assert client.pull("tiny:0.5b", lambda s, done, total: progress.append((s, done, total))) == "success"
    layer = [(done, total) for status, done, total in progress if status == "pulling sha256:abc"]
    assert layer == [(n * 1_000_000, 4_000_000) for n in range(5)]  # every progress line, in order
    assert progress[0][0] == "pulling manifest" and progress[-1] == ("success", 0, 0)
    assert "tiny:0.5b" in {m.name for m in client.models()}
    with pytest.raises(c.ServerUnavailable, match="pull model manifest: file does not exist"):
        client.pull("missing:1b")


def test_errors_are_typed_alike(server, impl):
    client = ollama_client(server, impl)
    client.attempts = 1
    client.breaker.threshold = 100  # every fault reaches the client (the breaker has its own test)
    with pytest.raises(c.ModelNotFound, match="model server: model 'nope:7b' not found"):
        client.chat("nope:7b", [SYSTEM])
    server.faults.append(Fault("oom"))
    with pytest.raises(c.OutOfMemory, match="out of memory for coder:14b: model requires more system memory"):
        client.chat("coder:14b", [SYSTEM])
    server.faults.append(Fault("garbage"))
    with pytest.raises(c.BadResponse, match="not JSON: b'<html><body>502 Bad Gateway"):
        client.chat("coder:14b", [SYSTEM])
    server.faults.append(Fault("die"))
    with pytest.raises(c.StreamBroken, match="ended the stream before `done`"):
        client.chat("coder:14b", [SYSTEM])
    server.faults.append(Fault("reset"))
    with pytest.raises(c.StreamBroken):
        client.chat("coder:14b", [SYSTEM])
    server.faults.append(Fault("error"))
    with pytest.raises(c.ServerUnavailable, match="model server error 500: llama runner process has terminated"):
        client.chat("coder:14b", [SYSTEM])
    server.faults.append(Fault("notfound"))
    with pytest.raises(c.ModelNotFound):
        client.generate("coder:14b", "[role:coder] hi")
    assert client.chat("coder:14b", [SYSTEM]).content == "let me look"  # the faults are spent: answers again


@pytest.mark.parametrize("api", ["ollama", "openai"])
def test_errors_are_typed_on_either_protocol(server, api):
    client = c.connect(server.url, api, client="stdlib")
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


def test_retries_a_broken_stream_then_succeeds(server, impl):
    client = ollama_client(server, impl)
    server.faults += [Fault("die"), Fault("garbage")]
    assert client.chat("coder:14b", [SYSTEM]).content == "let me look"
    assert client.retries == 2
    chats = [r for r in server.requests if r["path"] == "/api/chat"]
    assert len(chats) == 3  # two failed tries and the good one, each a real request


def test_openai_retries_a_broken_stream_then_succeeds(server):
    client = c.connect(server.url, "openai")
    server.faults += [Fault("die"), Fault("garbage")]
    assert client.chat("coder:14b", [SYSTEM]).content == "let me look"
    assert client.retries == 2


def test_slow_server_times_out_and_unreachable_is_clear(server, impl):
    client = ollama_client(server, impl, timeout=0.3, attempts=1)
    server.faults.append(Fault("delay", seconds=1.0))
    with pytest.raises(c.ServerTimeout, match=r"gave no answer in 0\.3s"):
        client.chat("coder:14b", [SYSTEM])
    server.faults.append(Fault("stall", seconds=1.0))
    with pytest.raises(c.ServerTimeout, match="stalled mid-stream"):
        client.chat("coder:14b", [SYSTEM])
    slow = ollama_client(server, impl, timeout=3.0, attempts=1)
    server.faults.append(Fault("delay", seconds=0.5))  # slow, within agent.timeout: waited for
    assert slow.chat("coder:14b", [SYSTEM]).content == "let me look"
    dead = c.connect("http://127.0.0.1:9", "ollama", client=impl, attempts=1)
    with pytest.raises(c.ServerUnavailable, match=re.escape("cannot reach the model server at http://127.0.0.1:9")):
        dead.chat("coder:14b", [SYSTEM])
    with pytest.raises(c.ServerUnavailable, match="cannot reach"):
        dead.models()


def test_breaker_opens_on_a_failing_server(server, impl):
    client = ollama_client(server, impl, attempts=1)
    client.breaker.threshold = 2
    server.faults.append(Fault("error", times=5))
    for _ in range(2):
        with pytest.raises(c.ServerUnavailable):
            client.chat("coder:14b", [SYSTEM])
    with pytest.raises(c.ServerUnavailable, match="is failing"):
        client.chat("coder:14b", [SYSTEM])
    assert server.faults[0].times == 3  # the open circuit spared the server
