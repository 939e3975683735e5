"""Fixtures for `help.py run`: the sample app with its cached venv, and a running `help.py run`."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import HELP, clean_env
from tests.run import sample

sys.path.insert(0, str(sample.ROOT))
from helper.running.state import group_members

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(scope="session")
def app_venv() -> Path:
    """The sample app's venv (FastAPI, uvicorn, alembic, SQLAlchemy from PyPI), made once."""
    try:
        return sample.app_venv()
    except subprocess.CalledProcessError as exc:
        pytest.fail(
            f"could not install the sample app's requirements from PyPI: {exc.stderr[-500:] if exc.stderr else exc}"
        )


@pytest.fixture
def sample_app(tmp_path: Path, app_venv: Path) -> Path:
    return sample.copy_app(tmp_path / "app", app_venv)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(url: str, timeout: float = 2.0) -> tuple[int, str]:
    try:
        with _OPENER.open(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def wait_http(url: str, timeout: float = 30.0, want: str | None = None) -> dict[str, object]:
    """Poll `url` until it answers 200 (with `want` in the body); the JSON body."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            status, body = http_get(url)
            if status == 200 and (want is None or want in body):
                return json.loads(body)
            last = f"HTTP {status}: {body[:200]}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.1)
    raise AssertionError(f"{url} gave no 200 within {timeout}s; last: {last}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat[stat.rfind(")") + 2] == "Z":
            return False
    return True


class Running:
    """`help.py run ARGS` in the background, its merged output collected line by line."""

    def __init__(self, root: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.root = root
        self.proc = subprocess.Popen(
            [sys.executable, str(HELP), "run", *args],
            cwd=root,
            env=clean_env(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self.seen_pids: set[int] = set()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 30.0, start: int = 0) -> int:
        """Index of the first output line from `start` matching `pattern`."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while time.monotonic() < deadline:
            for i, line in enumerate(self.lines[start:], start=start):
                if regex.search(line):
                    return i
            if self.proc.poll() is not None:
                self._reader.join(timeout=2)
                if not any(regex.search(line) for line in self.lines[start:]):
                    raise AssertionError(
                        f"help.py run exited ({self.proc.returncode}) before {pattern!r}:\n{self.output}"
                    )
            time.sleep(0.05)
        raise AssertionError(f"no {pattern!r} within {timeout}s:\n{self.output}")

    def pid_file(self, name: str) -> dict[str, object]:
        return json.loads((self.root / ".help" / "run" / f"{name}.pid").read_text())

    def pids(self) -> set[int]:
        """Every process of the run now: the supervisor, each child and its whole group."""
        found = {self.proc.pid}
        for path in (self.root / ".help" / "run").glob("*.pid"):
            with contextlib.suppress(OSError, ValueError):
                pid = int(json.loads(path.read_text())["pid"])
                found.add(pid)
                found.update(group_members(pid))
        self.seen_pids |= found
        return found

    def stop(self, sig: int = signal.SIGINT, timeout: float = 30.0) -> int:
        self.pids()
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code

    def close(self) -> None:
        """Never leave anything behind, even when a test failed half-way."""
        with contextlib.suppress(Exception):
            self.pids()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        for pid in self.seen_pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)


@pytest.fixture
def running() -> Iterator[type[Running]]:
    """running(root, *args, env=...) starts `help.py run`; all of it is stopped at the end."""
    started: list[Running] = []

    def start(root: Path, *args: str, env: dict[str, str] | None = None) -> Running:
        run = Running(root, *args, env=env)
        started.append(run)
        return run

    yield start  # type: ignore[misc]
    for run in started:
        run.close()
