"""conda / mamba / micromamba: environment.yml is the manifest; help.py edits it, the tool applies it.

The environment is a prefix in the project (`install.conda_prefix`). Commands are
built by small pure functions so each tool's spelling is visible and testable.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from helper import proc
from helper.errors import HelpError, UsageError
from helper.fsutil import atomic_write
from helper.managers import envyaml
from helper.managers.base import Manager, Runner, Target
from helper.managers.envcheck import Requirement

TOOLS = ("micromamba", "mamba", "conda")


def conda_spec(req: Requirement) -> str:
    """A PEP 508 requirement as a conda match spec: `name>=1,<2` stays, `==` becomes `=`-style exact."""
    if req.marker or req.url or req.extras:
        raise UsageError(f"{req.text!r} cannot be written as a conda spec", "give a plain `name` or `name>=version`")
    spec = req.specifier.replace(" ", "")
    if spec.startswith("==") and "," not in spec:
        return f"{req.name}=={spec[2:]}"
    return req.name + spec


def create_cmd(tool: str, prefix: Path, file: Path) -> list[str]:
    if Path(tool).name == "micromamba":
        return [tool, "create", "-y", "-p", str(prefix), "-f", str(file)]
    return [tool, "env", "create", "-y", "-p", str(prefix), "-f", str(file)]


def update_cmd(tool: str, prefix: Path, file: Path) -> list[str]:
    if Path(tool).name == "micromamba":
        return [tool, "install", "-y", "-p", str(prefix), "-f", str(file)]
    return [tool, "env", "update", "-p", str(prefix), "-f", str(file), "--prune"]


def remove_cmd(tool: str, prefix: Path, names: list[str]) -> list[str]:
    return [tool, "remove", "-y", "-p", str(prefix), *names]


def upgrade_cmd(tool: str, prefix: Path, names: list[str]) -> list[str]:
    return [tool, "update", "-y", "-p", str(prefix), *(names or ["--all"])]


class Conda(Manager):
    name = "conda"
    install_hint = "install micromamba, mamba or conda (e.g. Miniforge) and put it on PATH"

    def env_file(self) -> Path:
        for name in ("environment.yml", "environment.yaml"):
            if (self.root / name).exists():
                return self.root / name
        return self.root / "environment.yml"

    def manifest_files(self) -> list[Path]:
        return [self.env_file(), self.root / "conda-lock.yml"]

    def env_dir(self) -> Path:
        return self.root / str(self.project.config.get("install.conda_prefix") or ".conda")

    def python(self) -> Path:
        from helper.envs.layout import conda_python

        return conda_python(self.env_dir())

    def installed(self) -> dict[str, str]:
        found = super().installed()
        meta = self.env_dir() / "conda-meta"
        if meta.is_dir():
            for entry in os.listdir(meta):
                if entry.endswith(".json"):
                    name, _, _rest = entry[:-5].rpartition("-")
                    name, _, version = name.rpartition("-")
                    found.setdefault(name, version)
        return found

    def exe(self) -> str:
        configured = os.environ.get("CONDA_EXE") or os.environ.get("MAMBA_EXE")
        for tool in ([configured] if configured else []) + list(TOOLS):
            found = proc.which(tool)
            if found:
                return found
        raise HelpError(
            "this project uses conda (environment.yml), but neither micromamba, mamba nor conda is installed",
            self.install_hint,
        )

    def edit_add(self, requirements: list[Requirement], target: Target) -> bool:
        if target.optional or target.group or target.dev:
            raise UsageError("environment.yml has no groups or extras", "add it without --dev/--group/--optional")
        path = self.env_file()
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        changed = False
        for req in requirements:
            text, did = envyaml.add(text, conda_spec(req), path.name)
            changed |= did
        if changed:
            atomic_write(path, text)
        return changed

    def edit_remove(self, names: list[str]) -> bool:
        path = self.env_file()
        text = path.read_text(encoding="utf-8")
        changed = False
        for name in names:
            text, did = envyaml.remove(text, name, path.name)
            changed |= did
        if changed:
            atomic_write(path, text)
        return changed

    def create_commands(self, tool: str, base: str, version: str | None, prefix: Path) -> list[list[str]]:
        return [[tool, "create", "-y", "-p", str(prefix), f"python={version}" if version else "python"]]

    def sync(self, runner: Runner) -> None:
        tool = self.exe()
        exists = (self.env_dir() / "conda-meta").is_dir()
        cmd = (
            update_cmd(tool, self.env_dir(), self.env_file())
            if exists
            else create_cmd(tool, self.env_dir(), self.env_file())
        )
        runner.run(cmd, f"{Path(tool).name} environment")

    def add(self, runner: Runner, requirements: list[Requirement], target: Target) -> None:
        self.edit_add(requirements, target)
        self.sync(runner)

    def remove(self, runner: Runner, names: list[str], target: Target) -> None:
        self.edit_remove(names)
        runner.run(remove_cmd(self.exe(), self.env_dir(), names), "removing " + ", ".join(names))

    def upgrade(self, runner: Runner, names: list[str]) -> None:
        runner.run(upgrade_cmd(self.exe(), self.env_dir(), names), "upgrading")

    def lock(self, runner: Runner) -> None:
        tool = proc.require("conda-lock", "pip install conda-lock")
        runner.run([tool, "lock", "-f", str(self.env_file()), "-p", "linux-64"], "conda-lock")

    def outdated(self, runner: Runner) -> list[dict[str, str]]:
        result = runner.run(
            [*upgrade_cmd(self.exe(), self.env_dir(), []), "--dry-run", "--json"], "checking for newer versions"
        )
        start = result.stdout.find("{")
        data = json.loads(result.stdout[start:]) if start >= 0 else {}
        link = data.get("actions", {}).get("LINK", [])
        return [{"name": p.get("name", ""), "version": "", "latest": p.get("version", "")} for p in link]

    def declared(self) -> list[str]:
        path = self.env_file()
        return [envyaml.spec_name(s) for s in envyaml.items(path.read_text(encoding="utf-8"))] if path.exists() else []
