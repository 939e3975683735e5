"""The project's environment: the one `install` syncs and `test`, `run`, `build --no-isolation` run in.

One answer for every command: the manager decided once (helper.managers.registry.decide)
is asked where its environment lives (uv: UV_PROJECT_ENVIRONMENT or install.venv;
poetry: an in-project .venv or `poetry env info -p`, cached; pdm: .venv; conda: its
prefix; pip: install.venv, else an existing venv/).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from helper.managers.base import Manager


class ProjectEnvironment:
    """Which manager owns the environment, its interpreter and prefix, and why."""

    __slots__ = ("manager", "owner", "prefix", "python", "reason")

    def __init__(self, manager: str, python: Path, prefix: Path, reason: str, owner: Manager) -> None:
        self.manager = manager
        self.python = python
        self.prefix = prefix
        self.reason = reason
        self.owner = owner

    @property
    def exists(self) -> bool:
        return self.python.exists()

    def to_dict(self) -> dict[str, Any]:
        return {"manager": self.manager, "python": str(self.python), "prefix": str(self.prefix), "reason": self.reason}


def project_environment(project: Any) -> ProjectEnvironment:
    """The project's environment as its manager places it (it may not exist yet)."""
    from helper.managers.registry import choose

    manager, why = choose(project)
    prefix = manager.env_dir()
    return ProjectEnvironment(manager.name, manager.python(), prefix, f"{manager.name} ({why}): {prefix}", manager)
