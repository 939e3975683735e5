"""Which package manager a project uses: `manager` in the config, else its marker files.

Detection only stats a few files and reads the already-parsed pyproject.toml, so
it costs well under a millisecond and spawns nothing.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from helper.managers.base import Manager

# name -> "module:Class"; modules are imported only when chosen.
MANAGERS: dict[str, str] = {
    "uv": "helper.managers.uv:Uv",
    "poetry": "helper.managers.poetry:Poetry",
    "pdm": "helper.managers.pdm:Pdm",
    "conda": "helper.managers.conda:Conda",
    "pip": "helper.managers.pip:Pip",
}


# Files whose presence decides the manager (besides pyproject.toml's tables).
MARKER_FILES = ("uv.lock", "poetry.lock", "pdm.lock", "environment.yml", "environment.yaml", "requirements.txt")


def detect(root: Path, pyproject: dict[str, Any]) -> tuple[str, str]:
    """(manager name, the marker that decided it), in priority order."""
    tool = pyproject.get("tool", {}) if isinstance(pyproject.get("tool"), dict) else {}
    checks = (
        ("uv", "uv.lock", (root / "uv.lock").is_file()),
        ("poetry", "poetry.lock", (root / "poetry.lock").is_file()),
        ("pdm", "pdm.lock", (root / "pdm.lock").is_file()),
        ("poetry", "[tool.poetry]", "poetry" in tool),
        ("pdm", "[tool.pdm]", "pdm" in tool),
        ("uv", "[tool.uv]", "uv" in tool),
        ("conda", "environment.yml", (root / "environment.yml").is_file() or (root / "environment.yaml").is_file()),
    )
    for name, marker, present in checks:
        if present:
            return name, marker
    if (root / "requirements.txt").is_file():
        return "pip", "requirements.txt"
    return "pip", "pyproject.toml" if pyproject else "no marker file"


def choose(project: Any) -> tuple[Manager, str]:
    """The project's manager instance and why it was chosen."""
    configured = project.config.get("manager") or "auto"
    if configured != "auto":
        name, reason = configured, f"manager = {configured!r} in {project.sources.get('manager', 'the configuration')}"
    else:
        name, reason = detect(project.root, project.pyproject)
        reason = f"found {reason}"
    module, _, cls = MANAGERS[name].partition(":")
    return getattr(importlib.import_module(module), cls)(project), reason
