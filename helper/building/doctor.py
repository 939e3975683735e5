"""The doctor's checks for `build`: build system, installer, container engine, upload tool."""

from __future__ import annotations

import shutil
from typing import Any

from helper.checks import Check
from helper.errors import HelpError


def checks(project: Any) -> list[Check]:
    if not project.found or not (project.root / "pyproject.toml").is_file():
        return []
    from helper.building import buildsystem

    found: list[Check] = []
    try:
        system = buildsystem.read(project.pyproject, project.root)
        from helper.building.probe import try_backend

        tried = try_backend(project, system)
        found.append(Check("build backend", tried.status, tried.detail, tried.hint))
    except HelpError as exc:
        found.append(Check("build backend", "fail", exc.headline(), exc.hint))
    installer = "uv" if shutil.which("uv") else "pip"
    detail = f"build environments are filled by {installer}"
    if installer == "pip":
        found.append(Check("build installer", "warn", detail + " (slower)", "pip install uv for faster cold builds"))
    else:
        found.append(Check("build installer", "ok", detail))
    if any((project.root / name).is_file() for name in ("Containerfile", "Dockerfile")):
        from helper.building.image import choose_engine

        try:
            engine = choose_engine(project.config["build.engine"], timeout=10)
            found.append(Check("container engine", "ok", f"`build image` uses {engine}"))
        except HelpError as exc:
            found.append(Check("container engine", "warn", exc.message, exc.hint))
    tool = next((t for t in ("uv", "twine") if shutil.which(t)), "the built-in uploader")
    found.append(Check("publish", "ok", f"`build --publish` uploads with {tool}"))
    return found
