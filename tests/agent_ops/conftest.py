"""A real redis-server on a free loopback port, a fast scripted model, and `help.py agent serve` workers."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.agent.conftest import git
from tests.agent.fakeserver import FakeModelServer, Turn
from tests.conftest import HELP, clean_env, need_tool

FIXED = "def add(a, b):\n    return a + b\n"
CHECK = "import calc; assert calc.add(2, 3) == 5"


def script() -> dict[str, list[Turn]]:
    """One sub-task; the coder fixes calc.py in one turn; the check is a one-line import (fast)."""
    plan = {"subtasks": [{"title": "fix add", "description": "add must add", "files": ["calc.py"], "depends": []}]}
    return {
        "planner": [Turn("One step.", [("submit_plan", plan)])],
        "coder": [Turn("", [("write_file", {"path": "calc.py", "content": FIXED}), ("finish", {"summary": "fixed"})])],
        "reviewer": [Turn("Fine.", [("review", {"approve": True, "comments": ""})])],
        "tester": [Turn("", [("finish", {"summary": "the test covers it"})])],
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """redis-server with an append-only file (fsync always), so a restart keeps every acknowledged write."""

    def __init__(self, folder: Path) -> None:
        self.binary = need_tool("redis-server", "the agent queue's Redis backend is tested against a real server")
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        argv = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder)]
        argv += ["--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no"]
        log = open(self.folder / "redis.log", "ab")  # noqa: SIM115 - the server's own log, closed with the server
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start: {(self.folder / 'redis.log').read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: redis flushes the append-only file and exits
            self.proc.wait(10)
        self.proc = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def model() -> Iterator[FakeModelServer]:
    with FakeModelServer(script()) as fake:
        yield fake


def make_repo(path: Path, server_url: str, **agent: Any) -> Path:
    need_tool("git")
    need_tool("bwrap", "the agent runs model-written code only in the sandbox")
    (path / "tests").mkdir(parents=True)
    (path / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (path / "tests" / "test_calc.py").write_text(
        "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
    )
    settings = {
        "server": server_url,
        "api": "ollama",
        "client": "stdlib",  # pinned: the workers test the queue, not which client speaks the Ollama API
        "model": "coder:1b",
        "test_command": [sys.executable, "-c", CHECK],
        "review_command": [sys.executable, "-c", "import calc"],  # fast, not help.py test --quality
        "lease": 3.0,
        "housekeeping": 3600.0,
        **agent,
    }
    lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items())
    (path / "pyproject.toml").write_text(f"[tool.help.agent]\n{lines}")
    (path / ".gitignore").write_text("__pycache__/\n")
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-qm", "a calculator whose add is wrong")
    return path


class Worker:
    """`help.py agent serve` as its own process group (so SIGKILL takes its sandboxed children too)."""

    def __init__(self, repo: Path, *args: str) -> None:
        self.log = open(repo.parent / f"worker-{time.monotonic_ns()}.out", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, str(HELP), "agent", "serve", *args],
            cwd=repo,
            env=clean_env(),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGUSR1)  # its threads' stacks into the log, for the report below
            time.sleep(1)
            os.killpg(self.proc.pid, signal.SIGKILL)
            code = self.proc.wait(10)
            self.log.flush()
            stacks = Path(self.log.name).read_text(errors="replace")[-6000:]
            print(f"agent serve (pid {self.proc.pid}) did not stop {timeout:g}s after SIGTERM:\n{stacks}")
            return code
        finally:
            self.log.close()


@pytest.fixture
def workers() -> Iterator[Callable[..., Worker]]:
    started: list[Worker] = []

    def start(repo: Path, *args: str) -> Worker:
        worker = Worker(repo, *args)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.proc.poll() is None:
            with_kill = worker.proc
            os.killpg(with_kill.pid, signal.SIGKILL)
            with_kill.wait(10)
        worker.log.close()


def db(repo: Path) -> sqlite3.Connection:
    con = sqlite3.connect(repo / ".help" / "agent.sqlite", timeout=30)
    con.row_factory = sqlite3.Row
    return con


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def enqueue(repo: Path, prompts: list[str]) -> list[str]:
    """Put tasks on the queue through the same code `help.py agent queue` runs (one process, not 50)."""
    code = (
        "import json, sys\n"
        "from pathlib import Path\nfrom helper.project import load\n"
        "from plugins.agent.queue import open_queue\n"
        "from plugins.agent.store import Store\n"
        "project = load(Path.cwd())\n"
        "store = Store(project.state_dir / 'agent.sqlite')\n"
        "queue = open_queue(project)\n"
        "ids = []\n"
        "for prompt in json.loads(sys.argv[1]):\n"
        "    ids.append(store.new_task(prompt))\n"
        "    queue.put(ids[-1], prompt)\n"
        "print(json.dumps(ids))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(prompts)],
        cwd=repo,
        env={**clean_env(), "PYTHONPATH": str(HELP.parent)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))
