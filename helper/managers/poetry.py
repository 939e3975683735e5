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

    def manifest_files(self) -> list[Path]:
        return [self.root / "pyproject.toml", self.root / "poetry.lock"]

    def _env(self) -> dict[str, str]:
        # Keep the environment in the project (.venv) unless the user configured poetry otherwise.
        if "POETRY_VIRTUALENVS_IN_PROJECT" in os.environ or (self.root / "poetry.toml").exists():
            return {}
        return {"POETRY_VIRTUALENVS_IN_PROJECT": "true"}

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
