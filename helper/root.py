"""Where a project starts: the nearest directory at or above a start point that holds a marker file.

Only `os` is imported: the replay path (helper.replay) finds the root before anything else loads.
"""

from __future__ import annotations

import os

ROOT_MARKERS = ("pyproject.toml", "config/help.toml", ".git", "setup.py", "setup.cfg")
STATE_VARIABLE = "HELP_STATE_DIR"  # puts a project's state (.help/) elsewhere, e.g. a sandbox's writable folder
# HELP_* variables that steer help.py itself rather than set a config key (helper.project, helper.fast).
RESERVED_VARIABLES = frozenset(
    {"HELP_PROFILE", "HELP_DEBUG", "HELP_PROJECT", "HELP_PLUGIN_PATH", STATE_VARIABLE, "HELP_NO_FAST"}
)


def state_dir(root: str) -> str:
    """Where `root`'s state lives: $HELP_STATE_DIR when set, else <root>/.help."""
    return os.environ.get(STATE_VARIABLE) or os.path.join(root, ".help")


def find_root(start: str) -> str | None:
    """The real path of the nearest directory at or above `start` holding a project marker, or None."""
    current = os.path.realpath(start)
    while True:
        if any(os.path.exists(os.path.join(current, marker)) for marker in ROOT_MARKERS):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent
