"""The [build-system] table of pyproject.toml, with PEP 517's fallback."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helper.errors import ConfigError

# PEP 517: a project without [build-system] is built by setuptools' legacy backend.
FALLBACK_BACKEND = "setuptools.build_meta:__legacy__"
FALLBACK_REQUIRES = ["setuptools>=40.8.0"]


@dataclass(frozen=True)
class BuildSystem:
    requires: list[str]
    backend: str
    backend_path: list[str] = field(default_factory=list)

    def as_key(self) -> dict[str, Any]:
        return {"requires": sorted(self.requires), "backend": self.backend, "backend_path": self.backend_path}


def read(pyproject: dict[str, Any], root: Path) -> BuildSystem:
    """The build system a project declares; a wrong table is a ConfigError at pyproject.toml."""
    where = str(root / "pyproject.toml")
    table = pyproject.get("build-system")
    if table is None:
        return BuildSystem(list(FALLBACK_REQUIRES), FALLBACK_BACKEND)
    if not isinstance(table, dict):
        raise ConfigError("[build-system] must be a table", "see https://peps.python.org/pep-0518/", where=where)
    requires = table.get("requires")
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        raise ConfigError(
            "[build-system] requires must be a list of strings",
            'e.g. requires = ["setuptools>=68"]',
            where=where,
        )
    backend = table.get("build-backend")
    if backend is None:
        return BuildSystem(requires or list(FALLBACK_REQUIRES), FALLBACK_BACKEND)
    if not isinstance(backend, str) or not backend.strip():
        raise ConfigError(
            "[build-system] build-backend must be a string", 'e.g. build-backend = "hatchling.build"', where=where
        )
    backend_path = table.get("backend-path", [])
    if not isinstance(backend_path, list) or not all(isinstance(p, str) for p in backend_path):
        raise ConfigError(
            "[build-system] backend-path must be a list of directories", 'e.g. backend-path = ["_build"]', where=where
        )
    for entry in backend_path:
        resolved = (root / entry).resolve()
        if not resolved.is_relative_to(root.resolve()):
            raise ConfigError(
                f"backend-path entry {entry!r} points outside the project",
                "keep in-tree backends inside the project",
                where=where,
            )
    return BuildSystem(requires, backend.strip(), backend_path)


def identity(pyproject: dict[str, Any]) -> tuple[str | None, str | None]:
    """The project's (name, static version) from [project] or [tool.poetry]."""
    table = pyproject.get("project") or {}
    poetry = (pyproject.get("tool") or {}).get("poetry") or {}
    name = table.get("name") or poetry.get("name")
    version = None
    if "version" in table and "version" not in (table.get("dynamic") or []):
        version = table["version"]
    elif poetry.get("version") and "version" not in (table.get("dynamic") or []):
        version = poetry["version"]
    return (str(name) if name else None), (str(version) if version else None)
