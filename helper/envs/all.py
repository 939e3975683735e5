"""The registry: every environment detector and platform probe, in priority order."""

from __future__ import annotations

from types import ModuleType

from helper.envs import active, conda, container, hatch, pdm, pipenv, poetry, pyenv, system, uv, venv, wsl

DETECTORS: list[ModuleType] = sorted(
    [active, uv, poetry, pdm, pipenv, hatch, conda, venv, pyenv, system], key=lambda m: m.PRIORITY
)
PLATFORMS: list[ModuleType] = [container, wsl]
KINDS = [m.KIND for m in DETECTORS]
