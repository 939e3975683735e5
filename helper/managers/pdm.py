"""pdm: `pdm sync` from pdm.lock after `pdm lock --check` (a stale lock is an error), `pdm add` / `remove` / `update`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from helper.envs.layout import venv_python
from helper.managers.base import Manager, Runner, Target, base_python

if TYPE_CHECKING:
    from helper.managers.envcheck import Requirement


class Pdm(Manager):
    name = "pdm"
    tool = "pdm"
    install_hint = "pip install pdm (or pipx install pdm)"
    lock_file = "pdm.lock"
    lock_check = ("lock", "--check")
    sync_command = "pdm sync"

    def manifest_files(self) -> list[Path]:
        return [self.root / "pyproject.toml", self.root / "pdm.lock"]

    def _env(self) -> dict[str, str]:
        # Always the project's own .venv: never __pypackages__, never help.py's interpreter.
        return {"PDM_CHECK_UPDATE": "false", "PDM_NON_INTERACTIVE": "1", "PDM_PYTHON": str(self.python())}

    def env_dir(self) -> Path:
        return self.root / ".venv"  # pdm's in-project venv

    def ensure_env(self, runner: Runner) -> None:
        if not self.python().exists():
            base = self.project.config.get("python") or base_python()
            env = {"PDM_CHECK_UPDATE": "false", "PDM_NON_INTERACTIVE": "1", "PDM_VENV_IN_PROJECT": "true"}
            runner.run([self.exe(), "venv", "create", "--force", str(base)], "pdm venv create", env=env)

    @staticmethod
    def target_args(target: Target) -> list[str]:
        if target.optional:
            return ["-G", target.optional]
        if target.group:
            return ["-d", "-G", target.group]
        return ["-d"] if target.dev else []

    def create_commands(self, tool: str, base: str, version: str | None, prefix: Path) -> list[list[str]]:
        return [[tool, "use", "-f", base]]

    def rebuild_commands(self, tool: str, base: str, prefix: Path) -> list[list[str]] | None:
        return [[base, "-m", "venv", str(prefix)], [tool, "use", "-f", str(venv_python(prefix))], [tool, "sync"]]

    def sync(self, runner: Runner) -> None:
        self.ensure_env(runner)
        if (self.root / "pdm.lock").exists():
            runner.run([self.exe(), "lock", "--check"], "pdm lock --check", env=self._env())
            runner.run([self.exe(), "sync", "-G", ":all"], "pdm sync", env=self._env())
        else:
            runner.run([self.exe(), "install", "-G", ":all"], "pdm install", env=self._env())

    def add(self, runner: Runner, requirements: list[Requirement], target: Target) -> None:
        self.ensure_env(runner)
        runner.run(
            [self.exe(), "add", *self.target_args(target), *[r.text for r in requirements]], "pdm add", env=self._env()
        )

    def remove(self, runner: Runner, names: list[str], target: Target) -> None:
        runner.run([self.exe(), "remove", *self.target_args(target), *names], "pdm remove", env=self._env())

    def upgrade(self, runner: Runner, names: list[str]) -> None:
        runner.run([self.exe(), "update", *names], "pdm update", env=self._env())

    def lock(self, runner: Runner) -> None:
        runner.run([self.exe(), "lock"], "pdm lock", env=self._env())

    def outdated(self, runner: Runner) -> list[dict[str, str]]:
        result = runner.run([self.exe(), "outdated", "--json"], "pdm outdated", env=self._env())
        start = result.stdout.find("[")
        rows = json.loads(result.stdout[start:]) if start >= 0 else []
        return [
            {
                "name": r.get("package", ""),
                "version": r.get("installed_version", ""),
                "latest": r.get("latest_version", ""),
            }
            for r in rows
        ]
