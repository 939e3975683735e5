"""MCP test fixtures: venvs with the official SDK of each era, a raw stdio client, a sample project."""

from __future__ import annotations

import hashlib
import json
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import HELP, PYTEST_PROJECT, clean_env, need_tool, run_help

# pip requirement -> the venv that holds it; made once, kept between runs under the temp dir.
SDKS = {"v2": "mcp>=2.3,<3", "v1": "mcp>=1.28,<2"}
CLIENT = Path(__file__).with_name("sdk_client.py")


def _venv(requirement: str) -> Path:
    uv = need_tool("uv", "pip install uv (listed in .ci/pip.d/mcp.txt)")
    key = hashlib.sha256(f"{requirement} {sys.version_info[:2]}".encode()).hexdigest()[:12]
    where = Path(tempfile.gettempdir()) / "help-py-mcp-sdk" / key
    python = where / "bin" / "python"
    if (where / ".ready").exists() and python.exists():
        return python
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(where)], check=True, timeout=120)
    subprocess.run([uv, "pip", "install", "-q", "-p", str(python), requirement], check=True, timeout=600)
    (where / ".ready").write_text(requirement + "\n")
    return python


@pytest.fixture(scope="session")
def sdk_python() -> Callable[[str], Path]:
    """sdk_python("v1"|"v2") -> the python of a venv holding that SDK."""
    made: dict[str, Path] = {}

    def get(era: str) -> Path:
        if era not in made:
            made[era] = _venv(SDKS[era])
        return made[era]

    return get


def run_client(python: Path, project: Path, *target: str, mode: str = "auto") -> dict[str, Any]:
    done = subprocess.run(
        [str(python), str(CLIENT), *target],
        cwd=project,
        env=clean_env({"MCP_MODE": mode}),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def cli_json(project: Path, *args: str) -> Any:
    done = run_help("--json", *args, cwd=project)
    return json.loads(done.stdout)


@pytest.fixture
def sample(make_project: Callable[..., Path]) -> Path:
    return make_project(
        PYTEST_PROJECT,
        files={"sample/__init__.py": "VALUE = 1\n", "tests/test_value.py": "def test_one():\n    assert 1\n"},
    )


class RawClient:
    """Newline-delimited JSON-RPC over a `help.py mcp` child's stdio, with every stdout line checked as JSON."""

    def __init__(self, project: Path, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(HELP), "mcp", *extra],
            cwd=project,
            env=clean_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.junk: list[bytes] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._drain_err, daemon=True).start()
        self.pending: list[dict[str, Any]] = []

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                self.lines.put(json.loads(line))
            except json.JSONDecodeError:
                self.junk.append(line)

    def _drain_err(self) -> None:
        assert self.proc.stderr is not None
        for _ in self.proc.stderr:
            pass

    def write(self, data: bytes | str | dict[str, Any]) -> None:
        if isinstance(data, dict):
            data = json.dumps(data)
        if isinstance(data, str):
            data = data.encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(data if data.endswith(b"\n") else data + b"\n")
        self.proc.stdin.flush()

    def next(self, timeout: float = 60) -> dict[str, Any]:
        if self.pending:
            return self.pending.pop(0)
        return self.lines.get(timeout=timeout)

    def response(self, id_: Any, timeout: float = 60) -> dict[str, Any]:
        """The response with this id; other messages seen meanwhile are kept for next()."""
        deadline = time.monotonic() + timeout
        kept = []
        try:
            while True:
                message = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
                if message.get("id") == id_ and "method" not in message:
                    return message
                kept.append(message)
        finally:
            self.pending.extend(kept)

    def request(self, id_: Any, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": id_, "method": method}
        if params is not None:
            message["params"] = params
        self.write(message)
        return self.response(id_)

    def close(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            return self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


@pytest.fixture
def raw(sample: Path) -> Iterator[Callable[..., RawClient]]:
    clients: list[RawClient] = []

    def start(*extra: str, project: Path = sample) -> RawClient:
        client = RawClient(project, *extra)
        clients.append(client)
        return client

    yield start
    for client in clients:
        if client.proc.poll() is None:
            client.proc.kill()
            client.proc.wait()
        assert not client.junk, f"stdout carried non-protocol output: {client.junk[:3]}"


@pytest.fixture
def http_server(sample: Path) -> Iterator[Callable[..., str]]:
    """http_server(*extra) -> the URL of a `help.py mcp --http 127.0.0.1:0` serving the sample project."""
    procs: list[subprocess.Popen[str]] = []

    def start(*extra: str, project: Path = sample) -> str:
        proc = subprocess.Popen(
            [sys.executable, str(HELP), "mcp", "--http", "127.0.0.1:0", *extra],
            cwd=project,
            env=clean_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        procs.append(proc)
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        return url

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=10)
