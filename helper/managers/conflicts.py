"""The conflict check: one subprocess in the environment runs envcheck.py and reports unmet requirements."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from helper import proc
from helper.errors import HelpError

SCRIPT = Path(__file__).with_name("envcheck.py")


def check(python: Path, timeout: float = 120.0) -> dict[str, Any]:
    """{"installed": {...}, "problems": [...], "engine": ...} for the environment of `python`."""
    result = proc.run([str(python), "-I", str(SCRIPT)], timeout=timeout)
    if not result.ok:
        tail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise HelpError(
            f"could not inspect the environment with {python}: {tail}",
            "run `help.py env check` or recreate the environment",
        )
    try:
        return json.loads(result.stdout)
    except ValueError:
        raise HelpError(
            f"{python} printed something unexpected while listing packages", "run with -v and report it"
        ) from None


def needed(python: Path, roots: list[str], timeout: float = 120.0) -> dict[str, Any]:
    """{"needed": [canonical names], "unknown": [...]}: what `roots` need in the environment of `python`."""
    result = proc.run([str(python), "-I", str(SCRIPT), "--needed", json.dumps(roots)], timeout=timeout)
    if not result.ok:
        tail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise HelpError(f"could not inspect the environment with {python}: {tail}", "run `help.py env check`")
    found: dict[str, Any] = json.loads(result.stdout)
    return found


def describe(problem: dict[str, Any]) -> str:
    """'beta 1.0 requires alpha<2, but alpha 2.0 is installed (also wanted by gamma (alpha>=2))'."""
    head = f"{problem['package']} {problem['version']} requires {problem['requires']}"
    if problem.get("error"):
        return f"{head}, which cannot be checked: {problem['error']}"
    dep = problem["requires"].split(";")[0]
    if problem.get("installed") is None:
        tail = ", but it is not installed"
    else:
        tail = f", but {_name(dep)} {problem['installed']} is installed"
    others = problem.get("required_by") or []
    if others:
        tail += f" (also wanted by {', '.join(others)})"
    return head + tail


def _name(text: str) -> str:
    import re

    match = re.match(r"\s*([A-Za-z0-9._-]+)", text)
    return match.group(1) if match else text
