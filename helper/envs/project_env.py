"""The project's environment: the one `install` syncs and `env --python`, `test`, `run`, `build --no-isolation` and the plugins run in.

One answer for every command: the manager decided once (helper.managers.registry.decide)
is asked where its environment lives (uv: UV_PROJECT_ENVIRONMENT or install.venv;
poetry: an in-project .venv or `poetry env info -p`, cached; pdm: .venv; conda: its
prefix; pip: install.venv, else an existing venv/). The `python` setting, when it names
an environment's interpreter by path, overrides that location: it is used as it is, never synced.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from helper.managers.base import Manager


class ProjectEnvironment:
    """Which manager owns the environment, its interpreter and prefix, and why."""

    __slots__ = ("configured", "manager", "owner", "prefix", "python", "reason")

    def __init__(
        self, manager: str, python: Path, prefix: Path, reason: str, owner: Manager, configured: bool = False
    ) -> None:
        self.manager = manager
        self.python = python
        self.prefix = prefix
        self.reason = reason
        self.owner = owner
        self.configured = configured  # named by the `python` setting: used as it is

    @property
    def exists(self) -> bool:
        return self.python.exists()

    def to_dict(self) -> dict[str, Any]:
        return {"manager": self.manager, "python": str(self.python), "prefix": str(self.prefix), "reason": self.reason}

    def inputs(self, project: Any) -> tuple[list[Path], list[Path]]:
        """(files this answer was read from, help.py's own state files it used): what a replay must watch."""
        from helper.managers.registry import MARKER_FILES

        root = project.root
        config = root / "config"
        paths = [root / "pyproject.toml", config / "help.toml", config / f"help.{project.profile}.toml"]
        paths += [root / name for name in (*MARKER_FILES, ".python-version", ".venv", "venv")]
        paths += [self.python, self.prefix / "pyvenv.cfg"]
        own = [project.state_dir / "poetry-env.json"] if self.manager == "poetry" else []
        return paths, own


def configured_python(project: Any) -> Path | None:
    """The environment's interpreter the `python` setting names by path (relative to the project root), if it does.

    Only an interpreter inside an environment (a venv's pyvenv.cfg, a conda prefix's conda-meta/) names the
    environment; a version ("3.12") or a base interpreter (/usr/bin/python3.12) is what the manager makes the
    environment from, so the manager's environment stays the answer.
    """
    wanted = str(project.config.get("python") or "")
    if "/" not in wanted and os.sep not in wanted:
        return None
    path = Path(wanted)
    path = path if path.is_absolute() else project.root / path
    prefix = path.parent.parent
    if (prefix / "pyvenv.cfg").is_file() or (prefix / "conda-meta").is_dir():
        return path
    return None


def project_environment(project: Any) -> ProjectEnvironment:
    """The project's environment as its manager places it (it may not exist yet)."""
    from helper.managers.registry import choose

    manager, why = choose(project)
    named = configured_python(project)
    if named is not None:
        source = project.sources.get("python", "the configuration")
        prefix = named.parent.parent
        reason = f"python = {project.config.get('python')!r} in {source} (used as it is; {manager.name} not asked)"
        return ProjectEnvironment(manager.name, named, prefix, reason, manager, configured=True)
    prefix = manager.env_dir()
    return ProjectEnvironment(manager.name, manager.python(), prefix, f"{manager.name} ({why}): {prefix}", manager)
