"""`help.py env --python` answered from the detection cache before the CLI loads.

Only os is imported (json would bring re, enum and more, costing as much as
the rest of the answer). When anything is uncertain (no project root,
no cache, a changed file or variable, no usable interpreter) it returns None
and the full command runs instead, so the answer is always the same.
"""

from __future__ import annotations

import os
import sys

from helper.envs.keys import FAST_NAME, base_inputs, fast_answer

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
        with open(os.path.join(root, ".help", FAST_NAME), encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, ValueError):
        return None
    return fast_answer(text, base_inputs(root, environ, "/"))


def main() -> int | None:
    found = python_path()
    if found is None:
        return None
    sys.stdout.write(found + "\n")
    return 0
