"""A scripted model server whose coder succeeds with a probability set per prompt variant, and fast task runs."""

from __future__ import annotations

import json
import random
import re
import threading
from pathlib import Path
from typing import Any

import pytest

from plugins.agent import client as model_client
from plugins.agent.engine import Engine, Settings
from plugins.agent.store import Store
from tests.agent.conftest import PATCH, VENV, make_repo
from tests.agent.fakeserver import FakeModelServer, Turn

PYTHON = str(VENV / "bin" / "python")
# the sandboxed checks, kept to one interpreter start each so dozens of tasks run in seconds
TESTS = [PYTHON, "-c", "from calc import add; assert add(2, 3) == 5, 'add is wrong'"]
LINT = [PYTHON, "-c", "pass"]
WRONG = "def add(a, b):\n    return a * b\n"


def script(approve: bool = True) -> dict[str, list[Turn]]:
    plan = {"subtasks": [{"title": "fix add", "description": "add must add", "files": ["calc.py"], "depends": []}]}
    return {
        "planner": [Turn("One step.", [("submit_plan", plan)])],
        "coder": [Turn("", [("write_patch", {"patch": PATCH}), ("finish", {"summary": "add adds"})])],
        "reviewer": [Turn("", [("review", {"approve": approve, "comments": "" if approve else "rename it"})])],
        "tester": [Turn("", [("finish", {"summary": "the existing test covers it"})])],
    }


class VariantServer(FakeModelServer):
    """The coder writes the right patch with probability `odds[variant]` (seeded), else a wrong one."""

    def __init__(self, odds: dict[str, float], seed: int, **kw: Any) -> None:
        super().__init__(script(), **kw)
        self.odds = odds
        self.rng = random.Random(seed)
        self.coder_variants: list[str] = []

    def turn_for(self, messages: list[dict[str, Any]]) -> tuple[str, Turn]:
        role, turn = super().turn_for(messages)
        if role != "coder":
            return role, turn
        variant = (re.search(r"\[variant:([\w-]+)\]", str(messages[0]["content"])) or [None, "?"])[1]
        with self.lock:
            self.coder_variants.append(variant)
            right = self.rng.random() < self.odds.get(variant, 0.0)
        if right:
            return role, turn
        return role, Turn("", [("write_file", {"path": "calc.py", "content": WRONG}), ("finish", {"summary": "x"})])


def engine_for(repo: Path, url: str, models: list[str], seed: int | None = 7, **settings: Any) -> tuple[Engine, Store]:
    store = Store(repo / ".help" / "agent.sqlite")
    client = model_client.connect(url, "ollama", timeout=10.0, attempts=2, client="stdlib")  # pinned, as in tests/agent
    options: dict[str, Any] = {"max_rounds": 0, "test_command": TESTS, "review_command": LINT, **settings}
    return Engine(repo, store, client, models, Settings(venv=VENV, seed=seed, **options)), store


FAST_CONFIG = f"test_command = {json.dumps(TESTS)}\nmax_rounds = 0\n"


@pytest.fixture
def fast_repo(tmp_path: Path):
    def make(url: str) -> Path:
        return make_repo(tmp_path / "repo", url, extra=FAST_CONFIG)

    return make


class GateServer(FakeModelServer):
    """The first coder request waits until `release()`: a task held mid-step for as long as a test needs."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(script(), **kw)
        self.gate = threading.Event()
        self.held = threading.Event()  # set once the coder's request has arrived and is waiting
        self.once = True

    def turn_for(self, messages: list[dict[str, Any]]) -> tuple[str, Turn]:
        role, turn = super().turn_for(messages)
        with self.lock:
            hold, self.once = (self.once and role == "coder"), (self.once and role != "coder")
        if hold:
            self.held.set()
            self.gate.wait(60)
        return role, turn

    def release(self) -> None:
        self.gate.set()
