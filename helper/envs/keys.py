"""What a cached detection depends on: variables, stat signatures. Kept import-light for the fast path."""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing itself costs more than the rest of the fast path
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

CACHE_VERSION = 3
CACHE_NAME = "env-detect.json"
FAST_NAME = "env-python.txt"  # the same answer in a form read without json (and so without re)
FAST_HEADER = f"help.py env --python cache {CACHE_VERSION}"

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
    return None if st is None else [st.st_mtime_ns, st.st_size, st.st_ino]


def stat_signature(path: str) -> list[int] | None:
    try:
        return signature(os.stat(path))
    except (OSError, ValueError):
        return None


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


def fast_text(inputs: dict[str, Any], seen: dict[str, Any], executable: str) -> str | None:
    """The fast file: header, repr of the base inputs, the interpreter, then one `path<TAB>signature` per line."""
    lines = [FAST_HEADER, repr(inputs["base"]), executable]
    for name, recorded in seen.items():
        if "\n" in name or "\t" in name:
            return None  # such paths cannot be written one per line; the json cache still serves them
        lines.append(f"{name}\t{' '.join(map(str, recorded)) if recorded else '-'}")
    return "\n".join(lines) + "\n"


def fast_answer(text: str, base: dict[str, Any]) -> str | None:
    """The interpreter a fast file names, if its inputs are `base` and every signature still holds."""
    lines = text.split("\n")
    if len(lines) < 3 or lines[0] != FAST_HEADER or lines[1] != repr(base) or not lines[2]:
        return None
    for line in lines[3:]:
        if not line:
            continue
        name, _, recorded = line.rpartition("\t")
        now = stat_signature(name)
        if (" ".join(map(str, now)) if now else "-") != recorded:
            return None
    return lines[2]
