"""The environment tests run in: the project's own (helper.envs.project_env), synced by its manager.

`test` keeps no environment of its own. When the project's environment is
missing or out of date with the manifest/lock, it is synced exactly as
`help.py install` does (uv sync, poetry sync, pdm sync, or pip's exact sync,
dev dependencies included), with the interpreter the manager chooses. The
deprecated `test.venv` setting, when set, names an environment used as it is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from helper.envs.layout import venv_python
from helper.errors import HelpError
from helper.fsutil import FileLock, atomic_write
from helper.ui import console


def named_venv(project: Any) -> Path | None:
    """The environment the deprecated `test.venv` names, when it is set; else None."""
    if project.sources.get("test.venv", "default") == "default":
        return None
    return Path(project.root / project.config["test.venv"])


def location(project: Any) -> tuple[Path, str]:
    """(the test environment's interpreter, what chose it), without making anything."""
    given = project.config.get("test.python")
    if given:
        return Path(project.root / str(given)), f"test.python = {given!r}"
    named = named_venv(project)
    if named is not None:
        return venv_python(named), f"test.venv = {project.config['test.venv']!r} (deprecated)"
    from helper.envs.project_env import project_environment

    env = project_environment(project)
    return env.python, env.reason


def ensure(project: Any, sync: bool = True) -> Path:
    """The test environment's interpreter: the project's environment, synced by its manager when needed.

    With `sync` False (or test.sync = false) nothing is synced or written: the environment
    is used as it is, or `test.python` names one prepared elsewhere (a sandboxed run).
    """
    given = project.config.get("test.python")
    if given:
        python = Path(project.root / str(given))
        if not python.exists():
            raise HelpError(f"test.python {given} does not exist", "point it at an environment's interpreter")
        return python
    if not sync or not project.config.get("test.sync", True):
        python, reason = location(project)
        if not python.exists():
            raise HelpError(
                f"the project's environment is missing ({reason}) and syncing is off",
                "run `help.py install` first, or test without --no-sync",
            )
        return python
    named = named_venv(project)
    if named is not None:
        console.warn(
            f"test.venv is deprecated: tests run in {named} as it is (not synced); "
            "remove it to test in the project's environment (install.venv moves that one)"
        )
        python = venv_python(named)
        if not python.exists():
            raise HelpError(f"{named} (test.venv) has no interpreter", "remove test.venv, then run `help.py test`")
        return python
    from helper.envs.project_env import project_environment
    from helper.managers import state

    env = project_environment(project)
    if env.configured:  # the `python` setting names the interpreter: used as it is, like any other command
        if not env.exists:
            raise HelpError(f"{env.python} (the `python` setting) does not exist", "fix or remove the `python` setting")
        return env.python
    state_dir = project.ensure_state_dir()
    with FileLock(state_dir / "test-env.lock", timeout=600):
        if not env.exists or not state.in_sync(project, env.owner):
            from helper.managers.workflow import execute

            console.info(f"syncing the project's environment with {env.manager} ({env.reason})")
            manager = env.owner
            execute(project, manager, "sync", manager.sync)
            env = project_environment(project)  # poetry says where its environment is once it exists
        if not env.exists:
            raise HelpError(
                f"{env.manager} made no interpreter at {env.python}", "run `help.py install -v` to see what it did"
            )
        marker = {"manager": env.manager, "prefix": str(env.prefix), "python": str(env.python)}
        atomic_write(state_dir / "test-env.json", json.dumps(marker), fsync=False)
    return env.python
