"""Fixture repositories with a failing test, scripted model turns, and an engine wired to the fake server."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from plugins.agent import client as model_client
from plugins.agent.engine import Engine, Settings
from plugins.agent.store import Store
from tests.agent.fakeserver import FakeModelServer, Turn
from tests.conftest import IN_CI, ROOT, need_tool

VENV = ROOT / ".venv"
# The Ollama API has two clients (agent.client): the stdlib one and the `ollama` package. The client tests
# run against both; every other agent test pins the stdlib one (STDLIB), so which packages the test
# environment has never changes what they exercise, and test_end_to_end runs one task through the package.
STDLIB = "stdlib"

PATCH = """--- a/calc.py
+++ b/calc.py
@@ -1,2 +1,2 @@
 def add(a, b):
-    return a - b
+    return a + b
"""


def script() -> dict[str, list[Turn]]:
    plan = {
        "subtasks": [
            {"title": "fix add", "description": "add must add", "files": ["calc.py"], "depends": []},
            {"title": "document add", "description": "say so", "files": ["NOTES.md"], "depends": ["fix add"]},
        ]
    }
    return {
        "planner": [Turn("Two steps.", [("submit_plan", plan)])],
        "coder:fix add": [
            Turn("Reading it.", [("read_file", {"path": "calc.py"})]),
            Turn("", [("write_patch", {"patch": PATCH})]),
            Turn("", [("finish", {"summary": "add adds"})]),
        ],
        "coder:document add": [
            Turn("", [("write_file", {"path": "NOTES.md", "content": "add(a, b) is a + b\n"}), ("finish", {})])
        ],
        "reviewer": [Turn("Looks right.", [("review", {"approve": True, "comments": ""})])],
        "tester": [
            Turn(
                "",
                [
                    (
                        "write_file",
                        {
                            "path": "tests/test_more.py",
                            "content": "from calc import add\n\n\ndef test_zero():\n    assert add(0, 0) == 0\n",
                        },
                    ),
                    ("finish", {"summary": "one more test"}),
                ],
            )
        ],
    }


def need_package(name: str, hint: str = "") -> None:
    """A Python package importable here; missing fails the test in CI and skips it elsewhere."""
    if importlib.util.find_spec(name) is not None:
        return
    message = f"the {name} package is not installed{': ' + hint if hint else ''}"
    if IN_CI:
        pytest.fail(message + " (CI must install it: .ci/pip.d/agent.txt)")
    pytest.skip(message)


def git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def make_repo(path: Path, server_url: str, api: str = "ollama", extra: str = "", client: str = STDLIB) -> Path:
    need_tool("git")
    need_tool("bwrap", "the agent runs model-written code only in the sandbox")
    (path / "tests").mkdir(parents=True)
    (path / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (path / "tests" / "test_calc.py").write_text(
        "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
    )
    (path / "pyproject.toml").write_text(
        f'[tool.help.test]\nvenv = "{VENV}"\n\n[tool.help.agent]\nserver = "{server_url}"\napi = "{api}"\n'
        f'client = "{client}"\nfallback = ["coder:1b"]\n{extra}'
    )
    (path / ".gitignore").write_text("__pycache__/\n")
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-qm", "a calculator whose add is wrong")
    return path


def tree_hash(root: Path) -> dict[str, str]:
    """Every file of the user's tree (not .git, not help.py's own .help/) -> sha256."""
    found = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in (".git", ".help")]
        for name in files:
            path = Path(folder, name)
            found[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def run_pytest(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=path, capture_output=True, text=True
    )


@pytest.fixture
def server():
    with FakeModelServer(script()) as fake:
        yield fake


@pytest.fixture
def repo(tmp_path, server):
    return make_repo(tmp_path / "repo", server.url)


def make_engine(
    repo: Path,
    server: FakeModelServer,
    models: list[str],
    api: str = "ollama",
    client: str = STDLIB,
    **settings: object,
):
    store = Store(repo / ".help" / "agent.sqlite")
    timeout = float(settings.pop("timeout", 10.0))  # type: ignore[arg-type]
    connection = model_client.connect(server.url, api, timeout=timeout, attempts=3, client=client)
    return Engine(repo, store, connection, models, Settings(venv=VENV, **settings)), store  # type: ignore[arg-type]
