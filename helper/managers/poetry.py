"""poetry: `poetry sync` from poetry.lock (a stale lock is an error), `poetry add` / `remove` / `update`."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from helper.managers.base import Manager, Runner, Target

if TYPE_CHECKING:
    from helper.managers.envcheck import Requirement


class Poetry(Manager):
    name = "poetry"
    tool = "poetry"
    install_hint = "pip install poetry (or pipx install poetry)"
    lock_file = "poetry.lock"
    lock_check = ("check", "--lock")
    sync_command = "poetry install"

    def manifest_files(self) -> list[Path]:
        return [self.root / "pyproject.toml", self.root / "poetry.lock"]

    def _env(self) -> dict[str, str]:
        # poetry's own settings decide where its environment lives (in-project or its virtualenvs folder).
        return {}

    def env_dir(self) -> Path:
        """An in-project .venv if there is one (poetry uses it), else where `poetry env info -p` says, cached."""
        local = self.root / ".venv"
        if (local / "pyvenv.cfg").is_file():
            return local
        found = self._located()
        return Path(found) if found else local

    def _located(self) -> str | None:
        import json

        from helper import proc

        key = self._location_key()
        cache = self.project.state_dir / "poetry-env.json"
        try:
            saved = json.loads(cache.read_text())
            if saved.get("key") == key and os.path.isfile(os.path.join(saved["path"], "pyvenv.cfg")):
                return str(saved["path"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
        tool = proc.which(self.tool or "poetry")
        if tool is None:
            return None
        result = proc.run([tool, "env", "info", "-p", "--no-interaction"], cwd=self.root, timeout=60)
        path = result.stdout.strip().splitlines()[-1].strip() if result.ok and result.stdout.strip() else ""
        if not path or not os.path.isfile(os.path.join(path, "pyvenv.cfg")):
            return None
        from helper.fsutil import atomic_write

        atomic_write(self.project.ensure_state_dir() / "poetry-env.json", json.dumps({"key": key, "path": path}))
        return path

    def _location_key(self) -> list[str]:
        """What poetry's choice depends on: its settings' variables and files, the manifest's stat."""
        parts = [f"{k}={v}" for k, v in sorted(os.environ.items()) if k.startswith("POETRY_")]
        from helper.statsig import stat_signature

        for path in (self.root / "pyproject.toml", self.root / "poetry.toml"):
            parts.append(f"{path.name}:{stat_signature(path) or '-'}")
        return parts

    @staticmethod
    def target_args(target: Target) -> list[str]:
        if target.optional:
            return [f"--optional={target.optional}"]
        if target.group:
            return ["--group", target.group]
        return ["--group", "dev"] if target.dev else []

    @staticmethod
    def spec(req: Requirement) -> str:
        # poetry takes PEP 508 text as one argument; spaces inside it would split the constraint.
        return re.sub(r"\s+", "", req.text) if not req.marker else req.text

    def create_commands(self, tool: str, base: str, version: str | None, prefix: Path) -> list[list[str]]:
        return [[tool, "env", "use", base]]

    def rebuild_commands(self, tool: str, base: str, prefix: Path) -> list[list[str]] | None:
        return [[tool, "env", "use", base], [tool, "install"]]

    def sync(self, runner: Runner) -> None:
        if not (self.root / "poetry.lock").exists():
            runner.run([self.exe(), "lock"], "poetry lock", env=self._env())
        runner.run([self.exe(), "sync", "--no-interaction", "--all-groups"], "poetry sync", env=self._env())

    def add(self, runner: Runner, requirements: list[Requirement], target: Target) -> None:
        specs = [self.spec(r) for r in requirements]
        runner.run(
            [self.exe(), "add", "--no-interaction", *self.target_args(target), *specs], "poetry add", env=self._env()
        )

    def remove(self, runner: Runner, names: list[str], target: Target) -> None:
        runner.run(
            [self.exe(), "remove", "--no-interaction", *self.target_args(target)[:2], *names],
            "poetry remove",
            env=self._env(),
        )

    def upgrade(self, runner: Runner, names: list[str]) -> None:
        runner.run([self.exe(), "update", "--no-interaction", *names], "poetry update", env=self._env())

    def lock(self, runner: Runner) -> None:
        runner.run([self.exe(), "lock", "--no-interaction"], "poetry lock", env=self._env())

    def outdated(self, runner: Runner) -> list[dict[str, str]]:
        result = runner.run(
            [self.exe(), "show", "--outdated", "--top-level", "--no-ansi"], "poetry show --outdated", env=self._env()
        )
        rows = []
        for line in result.stdout.splitlines():
            parts = line.split()
            if len(parts) >= 3 and re.match(r"^\d", parts[1]):
                rows.append({"name": parts[0], "version": parts[1], "latest": parts[2]})
        return rows
