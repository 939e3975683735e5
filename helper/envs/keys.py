"""What a cached detection depends on: variables, stat signatures. Kept import-light for the fast path."""

from __future__ import annotations

import os

from helper import statsig

TYPE_CHECKING = False  # typing itself costs more than the rest of the fast path
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

CACHE_VERSION = 3
CACHE_NAME = "env-detect.json"

# Variables that steer where tools put or find environments; their values are part of the cache key.
ENV_VARS = (
    "PATH", "HOME", "VIRTUAL_ENV", "CONDA_PREFIX", "CONDA_DEFAULT_ENV", "CONDA_EXE", "CONDA_ENVS_PATH",
    "CONDA_ENVS_DIRS", "MAMBA_ROOT_PREFIX", "MAMBA_EXE", "PIXI_PROJECT_ROOT", "PYENV_ROOT", "PYENV_VERSION",
    "POETRY_VIRTUALENVS_PATH", "POETRY_VIRTUALENVS_IN_PROJECT", "POETRY_CACHE_DIR", "POETRY_CONFIG_DIR",
    "UV_PROJECT_ENVIRONMENT", "PDM_HOME", "PDM_VENV_IN_PROJECT", "PDM_VENV_LOCATION", "WORKON_HOME",
    "PIPENV_VENV_IN_PROJECT", "PIPENV_CUSTOM_VENV_NAME", "HATCH_DATA_DIR", "HATCH_ENV", "XDG_DATA_HOME",
    "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "KUBERNETES_SERVICE_HOST", "WSL_DISTRO_NAME", "WSL_INTEROP", "container",
)  # fmt: skip


def signature(st: os.stat_result | None) -> list[int] | None:
    """helper.statsig's signature as a list, the form it takes in the JSON cache."""
    return None if st is None else list(statsig.signature(st))


def stat_signature(path: str) -> list[int] | None:
    found = statsig.stat_signature(path)
    return None if found is None else list(found)


def base_inputs(project: str, environ: Mapping[str, str], root: str) -> dict[str, Any]:
    """The key's part known before configuration is loaded (HELP_* variables shape the configuration)."""
    return {
        "version": CACHE_VERSION,
        "project": project,
        "root": root,
        "environ": {k: environ.get(k) for k in ENV_VARS},
        "help": {
            k: v
            for k, v in sorted(environ.items())
            if k.startswith("HELP_") and k not in ("HELP_PROJECT", "HELP_DEBUG")
        },
    }


def still_valid(entry: dict[str, Any]) -> bool:
    """True while every path recorded at detection time has the same stat signature."""
    return all(stat_signature(name) == recorded for name, recorded in entry["seen"].items())
