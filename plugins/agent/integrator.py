"""The integrator: files the agents added moved where the project's conventions put them; dependencies added.

Dependencies the coder or tester asked for (the add_dependency tool, stored
as tool calls, so a resumed task still has them) are added with `help.py
install REQ [--dev]` in the task's worktree: help.py's own code and the
project's manager, outside the sandbox; the manifests it edits are the ones
agents may not write.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from helper import proc
from plugins.agent import tools, workspace
from plugins.agent.context import Conventions

HELP = Path(__file__).resolve().parents[2] / "help.py"
INSTALL_TIMEOUT = 900.0


def added_files(worktree: Path, base: str) -> list[str]:
    workspace.git(worktree, "add", "-A")
    out = workspace.git(worktree, "diff", "--cached", "--name-only", "--diff-filter=A", base).stdout
    return [line for line in out.splitlines() if line]


def place(worktree: Path, base: str, conventions: Conventions) -> list[tuple[str, str]]:
    """Move each added file that is out of place (a test beside the code, a module outside src/); the moves."""
    moves = []
    with workspace.LOCK:  # sub-tasks in threads share the worktree
        for rel in added_files(worktree, base):
            target = conventions.place(rel)
            if target == rel or (worktree / target).exists():
                continue
            (worktree / target).parent.mkdir(parents=True, exist_ok=True)
            os.replace(worktree / rel, worktree / target)
            moves.append((rel, target))
        if moves:
            workspace.git(worktree, "add", "-A")
    return moves


def requested(calls: list[dict[str, Any]]) -> list[tuple[str, bool]]:
    """The dependencies asked for in the task's accepted add_dependency calls, in order, once each."""
    found: dict[str, bool] = {}
    for call in calls:
        if call["name"] != "add_dependency" or not call["ok"]:
            continue
        try:
            args = json.loads(call["arguments"]) if isinstance(call["arguments"], str) else call["arguments"]
        except ValueError:
            continue
        requirement = str(args.get("requirement", "")).strip()
        if tools.REQUIREMENT.match(requirement):
            found[requirement] = found.get(requirement, False) or bool(args.get("dev", False))
    return list(found.items())


def install(worktree: Path, requirement: str, dev: bool) -> proc.Result:
    """`help.py install REQ [--dev]` in the worktree (its own environment and manifests, not the user's)."""
    command = [sys.executable, str(HELP), "--json", "install", requirement, *(["--dev"] if dev else [])]
    env = {"HELP_PROJECT": str(worktree), "NO_COLOR": "1"}
    return proc.run(command, cwd=worktree, timeout=INSTALL_TIMEOUT, extra_env=env)
