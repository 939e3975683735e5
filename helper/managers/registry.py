"""Which package manager a project uses: decided here, once, for every command.

The order (documented in README "install"): the `manager` setting, then lock
files (uv.lock, poetry.lock, pdm.lock), then tool tables ([tool.poetry],
[tool.pdm], [tool.uv]), then the tools' own config files (poetry.toml,
.pdm-python), then environment.yml (conda), else pip (requirements.txt or
pyproject.toml). Detection only stats a few files and reads the already-parsed
pyproject.toml: it costs well under a millisecond and spawns nothing.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from helper.managers.base import Manager

# The manager list, written once: name -> "module:Class"; modules are imported only when chosen.
MANAGERS: dict[str, str] = {
    "uv": "helper.managers.uv:Uv",
    "poetry": "helper.managers.poetry:Poetry",
    "pdm": "helper.managers.pdm:Pdm",
    "conda": "helper.managers.conda:Conda",
    "pip": "helper.managers.pip:Pip",
}

# Files whose presence decides the manager (besides pyproject.toml's tables).
MARKER_FILES = (
    "uv.lock",
    "poetry.lock",
    "pdm.lock",
    "poetry.toml",
    ".pdm-python",
    "environment.yml",
    "environment.yaml",
    "requirements.txt",
)


def _file(name: str) -> Callable[[Path, dict[str, Any]], bool]:
    return lambda root, tool: (root / name).is_file()


def _table(name: str) -> Callable[[Path, dict[str, Any]], bool]:
    return lambda root, tool: name in tool


# (manager, the marker as the reason names it, test), in priority order.
MARKERS: tuple[tuple[str, str, Callable[[Path, dict[str, Any]], bool]], ...] = (
    ("uv", "uv.lock", _file("uv.lock")),
    ("poetry", "poetry.lock", _file("poetry.lock")),
    ("pdm", "pdm.lock", _file("pdm.lock")),
    ("poetry", "[tool.poetry]", _table("poetry")),
    ("pdm", "[tool.pdm]", _table("pdm")),
    ("uv", "[tool.uv]", _table("uv")),
    ("poetry", "poetry.toml", _file("poetry.toml")),
    ("pdm", ".pdm-python", _file(".pdm-python")),
    ("conda", "environment.yml", _file("environment.yml")),
    ("conda", "environment.yaml", _file("environment.yaml")),
    ("pip", "requirements.txt", _file("requirements.txt")),
)


def detect(root: Path, pyproject: dict[str, Any]) -> tuple[str, str]:
    """(manager name, the marker that decided it), from the marker files alone."""
    tool = pyproject.get("tool", {}) if isinstance(pyproject.get("tool"), dict) else {}
    for name, marker, present in MARKERS:
        if present(root, tool):
            return name, marker
    return "pip", "pyproject.toml" if pyproject else "no marker file"


def decide(project: Any) -> tuple[str, str]:
    """The project's manager name and why: the one decision every command uses."""
    configured = project.config.get("manager") or "auto"
    if configured != "auto":
        return configured, f"manager = {configured!r} in {project.sources.get('manager', 'the configuration')}"
    pyproject = project.pyproject if (project.root / "pyproject.toml").is_file() else {}
    name, marker = detect(project.root, pyproject)
    return name, f"found {marker}"


def manager_class(name: str) -> type[Manager]:
    module, _, cls = MANAGERS[name].partition(":")
    found: type[Manager] = getattr(importlib.import_module(module), cls)
    return found


def choose(project: Any) -> tuple[Manager, str]:
    """The project's manager instance and why it was chosen."""
    name, reason = decide(project)
    return manager_class(name)(project), reason
