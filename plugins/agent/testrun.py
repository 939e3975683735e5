"""`help.py test` on a task's worktree: the environment prepared outside the sandbox, the tests run inside it.

Outside (help.py's own, trusted code): the environment is found and, where it
is the worktree's own (a dependency was added), synced by its manager; else the
user's project environment is used. Inside the sandbox `help.py test --no-sync
--all --json` runs with a fresh state folder (HELP_STATE_DIR, the one writable
path besides the worktree): nothing is synced, no earlier answer is replayed or
reused, so what model-written code could leave behind cannot fake a result.
"""

from __future__ import annotations

import json
import secrets
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helper.errors import HelpError

HELP_ROOT = Path(__file__).resolve().parents[2]  # where help.py lives: read-only inside the sandbox
PYTEST_ARGS = ("-q", "-p", "no:cacheprovider")


@dataclass
class Prepared:
    command: list[str]
    env: dict[str, str]
    readonly: list[Path]
    state: Path  # the run's own state folder, writable in the sandbox, removed afterwards
    python: Path


@dataclass
class Verdict:
    """What `help.py test --json` said: the exit code, per-test outcomes, and its summary."""

    exit_code: int
    tests: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    parsed: bool = False
    errors: str = ""  # stderr's end when it failed with no failing test to name (a collection error)

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [t for t in self.tests if t.get("outcome") in ("failed", "error")]

    def problems(self) -> list[str]:
        """What `--quality`'s tools found, each line named by its tool."""
        found = []
        for tool in self.summary.get("quality") or []:
            found += [f"{tool.get('tool')}: {p}" for p in tool.get("problems") or []]
        return found

    def describe_quality(self) -> str:
        parts = []
        for tool in self.summary.get("quality") or []:
            state = (
                f"skipped ({tool['skipped']})"
                if tool.get("skipped")
                else f"{len(tool.get('problems') or [])} problem(s)"
            )
            parts.append(f"{tool.get('tool')}: {tool.get('files', 0)} file(s), {state}")
        return "; ".join(parts) or "no static check ran"

    def describe(self) -> str:
        """One line per failing test (id and its message), or the summary's counts."""
        if not self.parsed:
            return "help.py test gave no summary"
        lines = [f"{t['id']}: {t.get('outcome')} {str(t.get('message') or '').strip()[:300]}" for t in self.failed]
        counts = ", ".join(f"{n} {k}" for k, n in sorted((self.summary.get("outcomes") or {}).items()))
        tail = [self.errors] if self.errors and not lines else []
        return "\n".join([f"help.py test: {counts or 'no test ran'} (exit {self.exit_code})", *lines, *tail])


def environment(user_root: Path, worktree: Path) -> Path:
    """The interpreter the worktree's tests run with, synced here (outside the sandbox) when needed."""
    from helper import project as projects
    from helper.testing import environment as envs

    branch = projects.load(worktree)
    python, _ = envs.location(branch)
    if envs.named_venv(branch) is not None:
        if not python.exists():
            raise HelpError(f"test.venv names no environment ({python})", "fix test.venv, or remove it")
        return python
    if python.exists():  # the worktree has its own environment (the integrator added a dependency)
        return envs.ensure(branch)
    return envs.ensure(projects.load(user_root))  # the user's project environment, used read-only


def prepare(
    user_root: Path, worktree: Path, runs: Path, pytest_args: tuple[str, ...] = PYTEST_ARGS, quality: bool = False
) -> Prepared:
    """The sandboxed command and its environment; with `quality`, ruff and mypy too (`test --quality`)."""
    python = environment(user_root, worktree)
    state = runs / secrets.token_hex(6)
    state.mkdir(parents=True)
    options = ["--no-sync", "--all", *(["--quality"] if quality else [])]
    command = [sys.executable, str(HELP_ROOT / "help.py"), "--json", "test", *options, "--", *pytest_args]
    env = {
        "MYPY_CACHE_DIR": str(state / "mypy"),  # not in the worktree, where it would join the change
        "RUFF_CACHE_DIR": str(state / "ruff"),
        "HELP_STATE_DIR": str(state),
        "HELP_CACHE__DIR": str(state / "cache"),
        "HELP_TEST__SYNC": "false",
        "HELP_TEST__PYTHON": str(python),
        "HELP_JOURNAL__ENABLED": "false",
        "NO_COLOR": "1",
    }
    readonly = [HELP_ROOT, Path(sys.prefix), python.parent.parent]
    return Prepared(command, env, readonly, state, python)


def finish(prepared: Prepared) -> None:
    shutil.rmtree(prepared.state, ignore_errors=True)


def verdict(exit_code: int, stdout: str, stderr: str = "") -> Verdict:
    """Read `help.py test --json`'s answer (its JSON on stdout), with stderr's end for errors it names no test of."""
    found = _parse(exit_code, stdout)
    if exit_code and not found.failed:
        found.errors = "\n".join(stderr.strip().splitlines()[-15:])[-1500:]
    return found


def _parse(exit_code: int, stdout: str) -> Verdict:
    for line in reversed([line for line in stdout.splitlines() if line.strip()]):
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and "tests" in data:
            tests = [t for t in data.get("tests") or [] if isinstance(t, dict)]
            summary = {k: v for k, v in data.items() if k != "tests"}
            return Verdict(exit_code, tests, summary, True)
    try:
        data = json.loads(stdout)
    except ValueError:
        return Verdict(exit_code)
    if isinstance(data, dict) and "tests" in data:
        return Verdict(exit_code, list(data["tests"]), {k: v for k, v in data.items() if k != "tests"}, True)
    return Verdict(exit_code)
