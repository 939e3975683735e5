"""`help.py env --python` answered from the detection cache before the CLI loads.

Only os and json are imported. When anything is uncertain (no project root,
no cache, a changed file or variable, no usable interpreter) it returns None
and the full command runs instead, so the answer is always the same.
"""

from __future__ import annotations

import json
import os
import sys

from helper.envs.keys import CACHE_NAME, base_inputs, still_valid

# Same markers as helper.project.ROOT_MARKERS (a test keeps them equal).
ROOT_MARKERS = ("pyproject.toml", "config/help.toml", ".git", "setup.py", "setup.cfg")


def find_root(start: str) -> str | None:
    current = os.path.realpath(start)
    while True:
        if any(os.path.exists(os.path.join(current, m)) for m in ROOT_MARKERS):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def python_path(environ: dict[str, str] | os._Environ[str] = os.environ) -> str | None:
    """The chosen interpreter from a still-valid cache entry, or None."""
    start = environ.get("HELP_PROJECT") or "."
    root = find_root(start) if os.path.isdir(start) else None
    if root is None:
        return None
    try:
        with open(os.path.join(root, ".help", CACHE_NAME), encoding="utf-8") as handle:
            entry = json.load(handle)
        if entry["inputs"]["base"] != base_inputs(root, environ, "/") or not still_valid(entry):
            return None
        chosen = entry["result"]["chosen"]
        return chosen["executable"] if chosen and chosen.get("executable") else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def main() -> int | None:
    found = python_path()
    if found is None:
        return None
    sys.stdout.write(found + "\n")
    return 0
