"""uv: `uv sync --locked` from uv.lock; `uv add` / `uv remove` edit pyproject and lock together."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from helper.managers.base import Manager, Runner, Target, base_python

if TYPE_CHECKING:
    from helper.managers.envcheck import Requirement


class Uv(Manager):
    name = "uv"
    tool = "uv"
    install_hint = "pip install uv (or see https://docs.astral.sh/uv/)"
    lock_file = "uv.lock"
    lock_check = ("lock", "--check", "--offline")
    sync_command = "uv sync"

    def manifest_files(self) -> list[Path]:
        return [self.root / "pyproject.toml", self.root / "uv.lock"]

    def env_dir(self) -> Path:
        configured = os.environ.get("UV_PROJECT_ENVIRONMENT")
        return self.root / configured if configured else super().env_dir()

    def _env(self) -> dict[str, str]:
        # uv's own setting wins; else the environment help.py is configured to use.
        env = {} if "UV_PROJECT_ENVIRONMENT" in os.environ else {"UV_PROJECT_ENVIRONMENT": str(self.env_dir())}
        python = self.project.config.get("python") or (
            "" if "UV_PYTHON" in os.environ or self.pinned() else base_python()
        )
        if python:
            env["UV_PYTHON"] = str(python)
        return env

    def pinned(self) -> bool:
        """Does the project choose its own interpreter (.python-version, or a requires-python help.py's misses)?

        Then uv picks it, as `uv sync` would; otherwise help.py's own interpreter keeps environments alike.
        """
        if (self.root / ".python-version").is_file():
            return True
        requires = (self.project.pyproject.get("project") or {}).get("requires-python")
        if not requires:
            return False
        import sys

        from helper.envs.specifiers import matches

        return matches(".".join(map(str, sys.version_info[:3])), str(requires)) is False

    @staticmethod
    def target_args(target: Target) -> list[str]:
        if target.optional:
            return ["--optional", target.optional]
        if target.group:
            return ["--group", target.group]
        return ["--dev"] if target.dev else []

    def create_commands(self, tool: str, base: str, version: str | None, prefix: Path) -> list[list[str]]:
        return [[tool, "venv", "--python", version or base, str(prefix)]]

    def rebuild_commands(self, tool: str, base: str, prefix: Path) -> list[list[str]] | None:
        return [[tool, "sync", "--python", base]]

    def sync(self, runner: Runner) -> None:
        # --locked: a lock that no longer matches pyproject.toml is an error, never re-resolved.
        locked = ["--locked"] if (self.root / "uv.lock").exists() else []
        runner.run([self.exe(), "sync", *locked], "uv sync", env=self._env())

    def add(self, runner: Runner, requirements: list[Requirement], target: Target) -> None:
        runner.run(
            [self.exe(), "add", *self.target_args(target), *[r.text for r in requirements]], "uv add", env=self._env()
        )

    def remove(self, runner: Runner, names: list[str], target: Target) -> None:
        runner.run([self.exe(), "remove", *self.target_args(target), *names], "uv remove", env=self._env())

    def upgrade(self, runner: Runner, names: list[str]) -> None:
        flags = [a for n in names for a in ("--upgrade-package", n)] or ["--upgrade"]
        runner.run([self.exe(), "lock", *flags], "uv lock --upgrade", env=self._env())
        runner.run([self.exe(), "sync", "--locked"], "uv sync", env=self._env())

    def lock(self, runner: Runner) -> None:
        runner.run([self.exe(), "lock"], "uv lock", env=self._env())

    def outdated(self, runner: Runner) -> list[dict[str, str]]:
        result = runner.run(
            [self.exe(), "pip", "list", "--outdated", "--format", "json", "--python", str(self.python())],
            "uv pip list --outdated",
        )
        start = result.stdout.find("[")
        rows = json.loads(result.stdout[start:]) if start >= 0 else []
        return [{"name": r["name"], "version": r["version"], "latest": r.get("latest_version", "")} for r in rows]
